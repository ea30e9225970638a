"""The pipeline as it is in a git commit: its text, and the files its `load()`s read,
confined as in the working tree but read from git (for `plan --diff`)."""

from __future__ import annotations

import os

from engine.capabilities.base import CapabilityError
from engine.capabilities.source_tree import MAX_SOURCE_BYTES, MAX_SOURCE_MIB, SourceTree
from engine.core.diagnostics import UsageError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.capabilities.git.live import LiveGit


class SourcesAtRef(SourceTree):
    """The files `load()` may read, as they are in commit `rev`: the same confinement
    as the working tree's, with every text read from git."""

    def __init__(self, git: LiveGit, rev: str, root: str, pipeline_path: str,
                 pipeline_name: str, *, enabled: bool = True, max_files: int = 100) -> None:
        super().__init__(root, pipeline_path, pipeline_name, enabled=enabled,
                         max_files=max_files)
        self.git = git
        self.rev = rev

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        """Resolve and confine one load, and read it from `rev`."""
        relative = self.resolve(module, loading_file)
        name = self.display_name(relative)
        if name in self.texts:
            return {"name": name, "text": self.texts[name]}
        if len(self.texts) >= self.max_files:
            raise CapabilityError(
                f"load limit of {self.max_files} files exceeded (load.max_files)")
        raw = self.git.file_at(self.rev, relative)
        if raw is None:
            raise CapabilityError(f"cannot load {module!r}: {name} does not exist at "
                                  f"{self.rev}")
        self.texts[name] = _decoded(raw, f"cannot load {module!r}: {name}")
        self._relative[name] = relative
        return {"name": name, "text": self.texts[name]}


def _decoded(raw: bytes, what: str) -> str:
    if len(raw) > MAX_SOURCE_BYTES:
        raise CapabilityError(f"{what} is larger than {MAX_SOURCE_MIB} MiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise CapabilityError(f"{what} is not UTF-8") from None


def pipeline_at(git: LiveGit, rev: str, src_dir: str, pipeline_path: str) -> str | None:
    """The pipeline's text in commit `rev`; None when it had no such file."""
    root = os.path.realpath(src_dir)
    real = os.path.realpath(pipeline_path)
    if not real.startswith(root + os.sep):
        raise UsageError("plan --diff reads the pipeline from git: it must be inside the "
                         "source directory", pipeline_path)
    relative = os.path.relpath(real, root).replace(os.sep, "/")
    try:
        raw = git.file_at(rev, relative)
        return None if raw is None else _decoded(raw, pipeline_path)
    except CapabilityError as err:
        raise UsageError(f"plan --diff: {err}", rev) from None
