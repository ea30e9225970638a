"""Confined `load()`: which files a pipeline may load, read by the parent on its behalf.

`load("lib/helpers.star", ...)` resolves relative to the loading file,
`load("//ci/lib.star", ...)` relative to the source root. Only `.star` files inside the
source root may be loaded: a path that leaves it (through `..` or a symbolic link), an
absolute path, or any other form is refused with a message saying why. A file reached
under two names (through a symbolic link inside the root) is one module, evaluated once.
"""

from __future__ import annotations

import os
import posixpath

from engine.capabilities.base import CapabilityError

# A pipeline file, or a file it loads, larger than this is refused unread: real
# pipelines are a few KiB, and every source travels to the sandbox in one message.
MAX_SOURCE_MIB = 4
MAX_SOURCE_BYTES = MAX_SOURCE_MIB * 1024 * 1024


class SourceTree:
    """The source root as the sandbox may see it: `.star` files, read-only, counted."""

    def __init__(self, root: str, pipeline_path: str, pipeline_name: str, *,
                 enabled: bool = True, max_files: int = 100) -> None:
        self.root = os.path.realpath(root)
        self.root_display = root
        self.enabled = enabled
        self.max_files = max_files
        # display name -> path relative to the root (None: outside the root)
        self._relative: dict[str, str | None] = {pipeline_name: self._inside(pipeline_path)}
        self.texts: dict[str, str] = {}
        # real path -> display name: a file reached under two names is one module.
        self._names: dict[str, str] = {os.path.realpath(pipeline_path): pipeline_name}

    def _inside(self, path: str) -> str | None:
        real = os.path.realpath(path)
        if real == self.root or not real.startswith(self.root + os.sep):
            return None
        return os.path.relpath(real, self.root).replace(os.sep, "/")

    def resolve(self, module: str, loading_file: str) -> str:
        """The root-relative path that `load(module)` in `loading_file` names."""
        if not self.enabled:
            raise CapabilityError("load() is disabled by the platform's policy (load.enabled)")
        if not module.endswith(".star"):
            raise CapabilityError(f"cannot load {module!r}: only .star files can be loaded")
        if "\0" in module:
            raise CapabilityError(f"cannot load {module!r}: a path has no NUL character")
        rest = module[2:] if module.startswith("//") else module
        if module.startswith("@") or ":" in module or "//" in rest:
            raise CapabilityError(
                f"cannot load {module!r}: only files inside the source directory can be "
                "loaded (a relative path, or //path from the source root)"
            )
        if module.startswith("//"):
            relative = rest
        elif module.startswith("/"):
            raise CapabilityError(
                f"cannot load {module!r}: absolute paths are not allowed; use a path "
                "relative to this file, or //path from the source root"
            )
        else:
            base = self._relative.get(loading_file)
            if base is None:
                raise CapabilityError(
                    f"cannot load {module!r} relative to {loading_file}, which is outside "
                    "the source directory; use //path from the source root"
                )
            relative = posixpath.join(posixpath.dirname(base), module)
        normal = posixpath.normpath(relative)
        if normal == ".." or normal.startswith("../") or normal.startswith("/"):
            raise CapabilityError(f"cannot load {module!r}: it leaves the source directory")
        return normal

    def display_name(self, relative: str) -> str:
        """How messages name a loaded file: under the source directory as given."""
        return os.path.normpath(os.path.join(self.root_display, relative))

    def read(self, module: str, loading_file: str) -> dict[str, str]:
        """Resolve, confine and read one load; `{"name": display name, "text": ...}`."""
        relative = self.resolve(module, loading_file)
        name = self.display_name(relative)
        if name in self.texts:
            return {"name": name, "text": self.texts[name]}
        path = os.path.join(self.root, relative)
        real = os.path.realpath(path)
        if not real.startswith(self.root + os.sep):
            raise CapabilityError(
                f"cannot load {module!r}: it is a link to a file outside the source directory"
            )
        known = self._names.get(real)
        if known is not None:  # the same file under another name (a symlink)
            return {"name": known, "text": self.texts.get(known, "")}
        if len(self.texts) >= self.max_files:
            raise CapabilityError(
                f"load limit of {self.max_files} files exceeded (load.max_files)"
            )
        if not real.endswith(".star") or ".git" in real[len(self.root):].split(os.sep):
            raise CapabilityError(
                f"cannot load {module!r}: it resolves to a file that is not a `.star` file "
                "of the source (links into `.git` or to other files are refused)"
            )
        from engine.common.regular_file import FileRefused, read_regular

        try:
            raw = read_regular(real, MAX_SOURCE_BYTES)
        except FileRefused as err:
            raise CapabilityError(f"cannot load {module!r}: {name} {err.reason}") from None
        except FileNotFoundError:
            raise CapabilityError(f"cannot load {module!r}: {name} does not exist") from None
        except OSError as err:
            raise CapabilityError(f"cannot load {module!r}: {err.strerror}") from None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise CapabilityError(f"cannot load {module!r}: {name} is not UTF-8") from None
        self.texts[name] = text
        self._relative[name] = relative
        self._names[real] = name
        return {"name": name, "text": text}
