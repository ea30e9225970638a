"""`load()` confinement, on the parent's side: SourceTree decides what may be read.

Each case builds a real directory tree (symbolic links included) and asks the tree the
parent consults before reading a file for the sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.capabilities.base import CapabilityError
from engine.capabilities.source_tree import SourceTree
from tests.support.case_ids import case_id

SECRET = 'trigger_job("from-outside")\n'


def _tree(tmp_path: Path, **options: object) -> tuple[SourceTree, Path]:
    """A source root `src` next to a sibling `src-evil` whose name shares its prefix."""
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "pipeline.star").write_text('load("lib/a.star", "x")\n', encoding="utf-8")
    (src / "lib" / "a.star").write_text("x = 1\n", encoding="utf-8")
    evil = tmp_path / "src-evil"
    evil.mkdir()
    (evil / "a.star").write_text(SECRET, encoding="utf-8")
    pipeline = src / "pipeline.star"
    tree = SourceTree(str(src), str(pipeline), str(pipeline), **options)  # type: ignore[arg-type]
    return tree, src


# A symbolic link inside the root, and what it points at: each target is outside.
OUTSIDE_LINKS = {
    "sibling sharing the root's prefix": "../src-evil/a.star",
    "sibling through a deeper path": "../../src-evil/a.star",
    "parent directory": "../outside.star",
}


@pytest.mark.parametrize("target", OUTSIDE_LINKS.values(), ids=OUTSIDE_LINKS.keys())
def test_a_link_out_of_the_root_is_refused_unread(tmp_path: Path, target: str) -> None:
    tree, src = _tree(tmp_path)
    (tmp_path / "outside.star").write_text(SECRET, encoding="utf-8")
    link_dir = src / "lib" if target.startswith("../../") else src
    (link_dir / "link.star").symlink_to(target)
    module = "lib/link.star" if link_dir != src else "link.star"
    assert os.path.exists(link_dir / "link.star")  # the link does lead to a real file

    with pytest.raises(CapabilityError, match="link to a file outside the source directory"):
        tree.read(module, str(src / "pipeline.star"))
    assert tree.texts == {}


def test_a_directory_link_to_the_prefix_sibling_is_refused(tmp_path: Path) -> None:
    tree, src = _tree(tmp_path)
    (src / "vendor").symlink_to(tmp_path / "src-evil")

    with pytest.raises(CapabilityError, match="outside the source directory"):
        tree.read("//vendor/a.star", str(src / "pipeline.star"))
    assert tree.texts == {}


def test_a_pipeline_in_the_prefix_sibling_cannot_load_relative_to_itself(
    tmp_path: Path,
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.star").write_text("x = 1\n", encoding="utf-8")
    evil = tmp_path / "src-evil"
    evil.mkdir()
    (evil / "a.star").write_text(SECRET, encoding="utf-8")
    pipeline = evil / "pipeline.star"
    pipeline.write_text('load("a.star", "x")\n', encoding="utf-8")
    tree = SourceTree(str(src), str(pipeline), "pipeline.star")

    with pytest.raises(CapabilityError, match="which is outside the source directory"):
        tree.read("a.star", "pipeline.star")
    # //path still names the file under the root, never the sibling's.
    assert tree.read("//a.star", "pipeline.star")["text"] == "x = 1\n"


def test_a_link_to_the_root_itself_is_not_a_file_inside_it(tmp_path: Path) -> None:
    tree, src = _tree(tmp_path)
    (src / "root.star").symlink_to(src)

    with pytest.raises(CapabilityError, match="outside the source directory"):
        tree.read("root.star", str(src / "pipeline.star"))


def test_a_file_inside_the_root_is_read_once_under_two_names(tmp_path: Path) -> None:
    tree, src = _tree(tmp_path)
    (src / "alias.star").symlink_to(src / "lib" / "a.star")
    pipeline = str(src / "pipeline.star")

    first = tree.read("lib/a.star", pipeline)
    again = tree.read("alias.star", pipeline)

    assert first == {"name": str(src / "lib" / "a.star"), "text": "x = 1\n"}
    assert again == first
    assert list(tree.texts) == [first["name"]]


# --- every rule of resolve() and read(), with its exact message ------------------------------


def _plain_tree(tmp_path: Path, pipeline: str = "pipeline.star", **options: object
                ) -> tuple[SourceTree, Path, str]:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "ci").mkdir()
    path = src / pipeline
    path.write_text("x = 1\n", encoding="utf-8")
    tree = SourceTree(str(src), str(path), str(path), **options)  # type: ignore[arg-type]
    return tree, src, str(path)


RESOLVED = [
    # module, the loading file's path under the root, the root-relative path named
    ("lib/a.star", "pipeline.star", "lib/a.star"),
    ("//lib/a.star", "ci/pipeline.star", "lib/a.star"),
    ("a.star", "ci/pipeline.star", "ci/a.star"),
    ("../lib/a.star", "ci/pipeline.star", "lib/a.star"),
    ("./x/../a.star", "pipeline.star", "a.star"),
    ("//ci/../a.star", "pipeline.star", "a.star"),
]


@pytest.mark.parametrize(("module", "loader", "expected"), RESOLVED)
def test_resolve_names_a_path_under_the_root(tmp_path: Path, module: str, loader: str,
                                             expected: str) -> None:
    tree, _, path = _plain_tree(tmp_path, loader)
    assert tree.resolve(module, path) == expected


REFUSED = [
    ("lib.txt", "cannot load 'lib.txt': only .star files can be loaded"),
    ("@repo//a.star", "cannot load '@repo//a.star': only files inside the source directory "
     "can be loaded (a relative path, or //path from the source root)"),
    ("lib:a.star", "cannot load 'lib:a.star': only files inside the source directory can be "
     "loaded (a relative path, or //path from the source root)"),
    ("a\0b.star", "cannot load 'a\\x00b.star': a path has no NUL character"),
    ("lib//a.star", "cannot load 'lib//a.star': only files inside the source directory can "
     "be loaded (a relative path, or //path from the source root)"),
    ("x//y.star", "cannot load 'x//y.star': only files inside the source directory can "
     "be loaded (a relative path, or //path from the source root)"),
    ("@lib.star", "cannot load '@lib.star': only files inside the source directory can "
     "be loaded (a relative path, or //path from the source root)"),
    ("/etc/a.star", "cannot load '/etc/a.star': absolute paths are not allowed; use a path "
     "relative to this file, or //path from the source root"),
    ("../a.star", "cannot load '../a.star': it leaves the source directory"),
    ("//../a.star", "cannot load '//../a.star': it leaves the source directory"),
    ("///a.star", "cannot load '///a.star': it leaves the source directory"),
    ("lib/../../a.star", "cannot load 'lib/../../a.star': it leaves the source directory"),
]


@pytest.mark.parametrize(("module", "message"), REFUSED, ids=[case_id(m) for m, _ in REFUSED])
def test_resolve_refuses_with_a_reason(tmp_path: Path, module: str, message: str) -> None:
    tree, _, path = _plain_tree(tmp_path)
    with pytest.raises(CapabilityError) as caught:
        tree.resolve(module, path)
    assert str(caught.value) == message


def test_a_disabled_load_is_refused_before_anything_else(tmp_path: Path) -> None:
    tree, _, path = _plain_tree(tmp_path, enabled=False)
    with pytest.raises(CapabilityError) as caught:
        tree.read("/etc/passwd", path)
    assert str(caught.value) == "load() is disabled by the platform's policy (load.enabled)"


def test_a_relative_load_from_outside_the_root_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    outside = tmp_path / "pipeline.star"
    outside.write_text("x = 1\n", encoding="utf-8")
    tree = SourceTree(str(src), str(outside), "p.star")
    with pytest.raises(CapabilityError) as caught:
        tree.resolve("a.star", "p.star")
    assert str(caught.value) == (
        "cannot load 'a.star' relative to p.star, which is outside the source directory; "
        "use //path from the source root")


def test_read_gives_the_name_under_the_root_as_given_and_reads_once(tmp_path: Path) -> None:
    tree, src, path = _plain_tree(tmp_path, "ci/pipeline.star")
    (src / "ci" / "a.star").write_text("A = 1\n", encoding="utf-8")
    (src / "ci" / "b.star").write_text("B = 1\n", encoding="utf-8")
    name = os.path.join(str(src), "ci", "a.star")

    first = tree.read("a.star", path)
    (src / "ci" / "a.star").write_text("changed = 1\n", encoding="utf-8")
    again = tree.read("//ci/a.star", path)
    nested = tree.read("b.star", name)  # relative to the loaded file

    assert first == {"name": name, "text": "A = 1\n"}
    assert again == first  # one snapshot per run
    assert nested == {"name": os.path.join(str(src), "ci", "b.star"), "text": "B = 1\n"}
    assert tree.texts == {name: "A = 1\n", nested["name"]: "B = 1\n"}


@pytest.mark.parametrize("module", ["my lib/a b.star", "//tab\there/x.star", "a\nb/c.star"])
def test_a_name_with_white_space_is_one_path(tmp_path: Path, module: str) -> None:
    tree, src, path = _plain_tree(tmp_path)
    relative = module.removeprefix("//")
    (src / relative).parent.mkdir(parents=True)
    (src / relative).write_text("A = 1\n", encoding="utf-8")

    assert tree.read(module, path) == {"name": os.path.join(str(src), relative),
                                       "text": "A = 1\n"}


def test_the_root_is_shown_as_given_not_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "pipeline.star").write_text("x = 1\n", encoding="utf-8")
    (real / "a.star").write_text("A = 1\n", encoding="utf-8")
    shown = tmp_path / "shown"
    shown.symlink_to(real)
    tree = SourceTree(str(shown), str(shown / "pipeline.star"), "pipeline.star")

    assert tree.read("//a.star", "pipeline.star")["name"] == str(shown / "a.star")


def test_an_alias_of_a_file_read_before_gives_its_first_name(tmp_path: Path) -> None:
    tree, src, path = _plain_tree(tmp_path)
    (src / "lib" / "a.star").write_text("A = 1\n", encoding="utf-8")
    (src / "alias.star").symlink_to(src / "lib" / "a.star")
    first = tree.read("lib/a.star", path)

    assert tree.read("alias.star", path) == first
    assert len(tree.texts) == 1


def test_the_pipeline_loaded_again_is_one_module(tmp_path: Path) -> None:
    tree, _, path = _plain_tree(tmp_path)
    assert tree.read("//pipeline.star", path) == {"name": path, "text": ""}
    assert tree.texts == {}


@pytest.mark.parametrize("limit", [None, 1, 3])
def test_the_file_count_limit_is_exact(tmp_path: Path, limit: int | None) -> None:
    options: dict[str, object] = {} if limit is None else {"max_files": limit}
    tree, src, path = _plain_tree(tmp_path, "pipeline.star", **options)
    allowed = 100 if limit is None else limit
    for index in range(allowed + 1):
        (src / "lib" / f"m{index}.star").write_text(f"M = {index}\n", encoding="utf-8")
    for index in range(allowed):
        tree.read(f"lib/m{index}.star", path)
    tree.read("lib/m0.star", path)  # read before: no new file
    with pytest.raises(CapabilityError) as caught:
        tree.read(f"lib/m{allowed}.star", path)
    assert str(caught.value) == f"load limit of {allowed} files exceeded (load.max_files)"


def test_files_that_cannot_be_loaded_say_why(tmp_path: Path) -> None:
    tree, src, path = _plain_tree(tmp_path)
    (src / "dir.star").mkdir()
    (src / "big.star").write_bytes(b"#" * (4 * 1024 * 1024 + 1))
    (src / "max.star").write_bytes(b"#" * (4 * 1024 * 1024))
    (src / "latin.star").write_bytes(b"x = '\xe9'\n")
    (src / "file.star").write_text("x = 1\n", encoding="utf-8")
    name = str(src)
    expected = {
        "file.star/x.star": "cannot load 'file.star/x.star': Not a directory",
        "nope.star": f"cannot load 'nope.star': {name}/nope.star does not exist",
        "dir.star": f"cannot load 'dir.star': {name}/dir.star is not a regular file",
        "big.star": f"cannot load 'big.star': {name}/big.star is larger than 4 MiB",
        "latin.star": f"cannot load 'latin.star': {name}/latin.star is not UTF-8",
    }
    for module, message in expected.items():
        with pytest.raises(CapabilityError) as caught:
            tree.read(module, path)
        assert str(caught.value) == message
    assert len(tree.read("max.star", path)["text"]) == 4 * 1024 * 1024


def test_a_link_to_what_is_not_a_star_file_of_the_source_is_refused(tmp_path: Path) -> None:
    tree, src, path = _plain_tree(tmp_path)
    (src / ".git" / "hooks").mkdir(parents=True)
    (src / ".git" / "hooks" / "a.star").write_text("SECRET = 1\n", encoding="utf-8")
    (src / "notes.txt").write_text("SECRET = 1\n", encoding="utf-8")
    (src / "hook.star").symlink_to(src / ".git" / "hooks" / "a.star")
    (src / "notes.star").symlink_to(src / "notes.txt")
    for module in ("hook.star", "notes.star"):
        with pytest.raises(CapabilityError) as caught:
            tree.read(module, path)
        assert str(caught.value) == (
            f"cannot load {module!r}: it resolves to a file that is not a `.star` file of the "
            "source (links into `.git` or to other files are refused)")
    assert tree.texts == {}
