"""`changed_files` and `git_info`, answered by a `GitSource` capability."""

from __future__ import annotations

from engine.capabilities.base import CapabilityError
from pipeline_builtins.errors import BuiltinError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import GitSource


def _str_arg(name: str, value: Any, optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise BuiltinError(f"{name} must be a string")
    return value


def git_builtins(git: GitSource) -> dict[str, Callable[..., Any]]:
    """Build the git builtins over a git source."""

    def changed_files(
        from_ref: str = "HEAD^", to_ref: str = "HEAD", base_dir: str | None = None
    ) -> list[str]:
        frm = _str_arg("from_ref", from_ref)
        to = _str_arg("to_ref", to_ref)
        assert frm is not None and to is not None
        try:
            return git.changed_files(frm, to, _str_arg("base_dir", base_dir, optional=True))
        except CapabilityError as err:
            raise BuiltinError(f"changed_files: {err}") from None

    def git_info(base_dir: str | None = None) -> dict[str, Any]:
        try:
            return git.info(_str_arg("base_dir", base_dir, optional=True))
        except CapabilityError as err:
            raise BuiltinError(f"git_info: {err}") from None

    return {"changed_files": changed_files, "git_info": git_info}
