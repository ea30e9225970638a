"""`load()` confinement, on the parent's side: SourceTree decides what may be read.

Each case builds a real directory tree (symbolic links included) and asks the tree the
parent consults before reading a file for the sandbox.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine.capabilities.base import CapabilityError
from engine.sources import SourceTree

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
