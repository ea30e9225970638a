"""The git builtins (`changed_files`, `changes`, `changes_include`, `changes_only`,
`git_info`), answered by a `GitSource` capability.

Refs are checked and normalized here, so that the same question is always asked the
same way (and answered once); the glob builtins match in this process against the one
list of changed paths, so no list crosses into Starlark or to the parent twice.
"""

from __future__ import annotations

from engine.capabilities.base import CapabilityError
from engine.capabilities.git.refs import normalize
from pipeline_builtins.errors import BuiltinError
from pipeline_builtins.globs import GlobError, all_match, any_match, join_paths

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from engine.capabilities.base import GitSource

    Question = tuple[str, str | None, str | None]


def _base_dir(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise BuiltinError(f"{name}: base_dir must be a string, not {type(value).__name__}")
    return value


class _Asker:
    """One evaluation's change questions to a git source, asked the same way every time;
    the glob builtins' joined path lists are kept, one per question."""

    def __init__(self, git: GitSource, default_base: str) -> None:
        self.git = git
        self.default_base = default_base
        self.joined: dict[Question, str] = {}

    def question(self, name: str, from_ref: Any, to_ref: Any, base_dir: Any) -> Question:
        if from_ref is None:
            from_ref = self.default_base
        try:
            frm, to = normalize(from_ref, to_ref)
        except CapabilityError as err:
            raise BuiltinError(f"{name}: {err}") from None
        return frm, to, _base_dir(name, base_dir)

    def paths(self, name: str, asked: Question) -> list[str]:
        try:
            return self.git.changed_files(*asked)
        except CapabilityError as err:
            raise BuiltinError(f"{name}: {err}") from None

    def changes(self, asked: Question) -> list[dict[str, str | None]]:
        try:
            return self.git.changes(*asked)
        except CapabilityError as err:
            raise BuiltinError(f"changes: {err}") from None

    def match(self, name: str, test: Callable[[tuple[str, ...], str], bool],
              globs: tuple[Any, ...], from_ref: Any, to_ref: Any, base_dir: Any) -> bool:
        if not globs:
            raise BuiltinError(f"{name}: give at least one glob")
        for glob in globs:
            if not isinstance(glob, str):
                raise BuiltinError(
                    f"{name}: globs must be strings, got {type(glob).__name__} "
                    f'(pass a list as separate arguments: {name}(*globs))'
                )
        asked = self.question(name, from_ref, to_ref, base_dir)
        text = self.joined.get(asked)
        if text is None:
            text = self.joined[asked] = join_paths(self.paths(name, asked))
        try:
            return test(globs, text)
        except GlobError as err:
            raise BuiltinError(f"{name}: {err}") from None


def git_builtins(git: GitSource, default_base: str = "HEAD^") -> dict[str, Callable[..., Any]]:
    """Build the git builtins over a git source; `default_base` is what a question with
    no `from_ref` compares (`HEAD^`, or `BASE...HEAD` for a pull request)."""
    asker = _Asker(git, default_base)
    return {**_change_lists(asker), **_glob_tests(asker), "git_info": _git_info(git)}


def _change_lists(asker: _Asker) -> dict[str, Callable[..., Any]]:
    """`changed_files` and `changes`, and the JSON forms the prelude decodes."""

    def changed_files(
        from_ref: str | None = None, to_ref: str | None = None, base_dir: str | None = None
    ) -> list[str]:
        asked = asker.question("changed_files", from_ref, to_ref, base_dir)
        return asker.paths("changed_files", asked)

    def changes(
        from_ref: str | None = None, to_ref: str | None = None, base_dir: str | None = None
    ) -> list[dict[str, str | None]]:
        return asker.changes(asker.question("changes", from_ref, to_ref, base_dir))

    # Large lists reach Starlark faster as one JSON string that the prelude decodes
    # (the binding otherwise converts every element on its own).
    def changed_files_json(from_ref: Any, to_ref: Any, base_dir: Any) -> str:
        import json

        return json.dumps(changed_files(from_ref, to_ref, base_dir), ensure_ascii=False)

    def changes_json(from_ref: Any, to_ref: Any, base_dir: Any) -> str:
        import json

        return json.dumps(changes(from_ref, to_ref, base_dir), ensure_ascii=False)

    return {"changed_files": changed_files, "_changed_files_json": changed_files_json,
            "changes": changes, "_changes_json": changes_json}


def _glob_tests(asker: _Asker) -> dict[str, Callable[..., Any]]:
    """`changes_include` and `changes_only`, matched against one joined list of paths."""

    def changes_include(*globs: str, from_ref: str | None = None, to_ref: str | None = None,
                        base_dir: str | None = None) -> bool:
        """True when some changed path matches some glob.

        The changes are those `changed_files(from_ref, to_ref, base_dir)` lists. Globs are
        matched against whole paths from the repository root, case-sensitively: `*` within
        a path segment, `**` as a whole segment for any number of directories, `?`,
        `[...]` sets, `\\` to quote, and a trailing `/` for everything below
        (docs/git.md has the whole dialect). With nothing changed, the answer is `False`.
        Several globs are separate arguments: `changes_include(*GLOBS)` for a list.
        """
        return asker.match("changes_include", any_match, globs, from_ref, to_ref, base_dir)

    def changes_only(*globs: str, from_ref: str | None = None, to_ref: str | None = None,
                     base_dir: str | None = None) -> bool:
        """True when something changed and every changed path matches some glob.

        The same changes and the same glob dialect as `changes_include`; with nothing
        changed, the answer is `False`. `changes_only("docs/**", "*.md")` asks "is this a
        documentation-only change?".
        """
        return asker.match("changes_only", all_match, globs, from_ref, to_ref, base_dir)

    return {"changes_include": changes_include, "changes_only": changes_only}


def _git_info(git: GitSource) -> Callable[..., Any]:
    """`git_info` over a git source."""

    def git_info(base_dir: str | None = None) -> dict[str, Any]:
        """Facts about the checkout: `{"branch", "commit", "short_commit", "tag",
        "remote_url"}`, `None` for what is unknown.

        On a detached checkout (usual in CI) the branch comes from the environment
        (`REACTORCIDE_GIT_BRANCH`, then `REACTORCIDE_BRANCH`). With several tags on HEAD,
        the highest version-sorted one. Credentials are removed from `remote_url`. A
        `base_dir` that is not a git checkout gives all `None`, not an error.
        """
        try:
            return git.info(_base_dir("git_info", base_dir))
        except CapabilityError as err:
            raise BuiltinError(f"git_info: {err}") from None

    return git_info
