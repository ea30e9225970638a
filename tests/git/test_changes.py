"""`changes()` against real repositories, through the real CLI: one entry per change,
with its status and, for renames and copies, the old path."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.git.scenarios import capture
from tests.support.gitrepo import GitRepo, make_repo

Setup = Callable[[GitRepo], None]

# Long enough for git's similarity score to recognise a copy or a rename with an edit.
TEXT = "".join(f"line {n} of a file that is long enough to compare\n" for n in range(40))


def _edit_add_delete(repo: GitRepo) -> None:
    repo.commit({"src/app.py": "v2\n", "new.txt": "n\n", "docs/a.md": None})


def _exact_rename(repo: GitRepo) -> None:
    repo.commit({"docs/a.md": None, "guide/a.md": "a\n"})


def _rename_with_edit(repo: GitRepo) -> None:
    repo.commit({"long.txt": TEXT})
    repo.commit({"long.txt": None, "moved/long.txt": TEXT + "one more line\n"})


def _copy_of_changed_file(repo: GitRepo) -> None:
    repo.commit({"long.txt": TEXT})
    repo.commit({"long.txt": TEXT + "edited\n", "copy.txt": TEXT})


def _copy_of_unchanged_file(repo: GitRepo) -> None:
    repo.commit({"long.txt": TEXT})
    repo.commit({"copy.txt": TEXT})


def _file_becomes_symlink(repo: GitRepo) -> None:
    target = repo.path / "src" / "app.py"
    target.unlink()
    os.symlink("../README", target)
    repo.commit({})


def _odd_names_renamed(repo: GitRepo) -> None:
    repo.commit({"a b\tc\nd.txt": TEXT})
    repo.commit({"a b\tc\nd.txt": None, 'q"ü\\.txt': TEXT})


def _merge(repo: GitRepo) -> None:
    repo.branch("feature")
    repo.checkout("feature")
    repo.commit({"docs/a.md": None})
    repo.checkout("main")
    repo.commit({"src/app.py": "main\n"})
    repo.git("merge", "--quiet", "--no-ff", "-m", "merge feature", "feature")


def _nothing(repo: GitRepo) -> None:
    return None


def _change(path: str, status: str, old_path: str | None = None) -> dict[str, Any]:
    return {"path": path, "status": status, "old_path": old_path}


CASES: dict[str, tuple[Setup, str, list[dict[str, Any]]]] = {
    "added, modified, deleted": (_edit_add_delete, "changes()", [
        _change("docs/a.md", "deleted"), _change("new.txt", "added"),
        _change("src/app.py", "modified")]),
    "an exact rename": (_exact_rename, "changes()",
                        [_change("guide/a.md", "renamed", "docs/a.md")]),
    "a rename with an edit": (_rename_with_edit, "changes()",
                              [_change("moved/long.txt", "renamed", "long.txt")]),
    "a copy of a file changed in the same commit": (
        _copy_of_changed_file, "changes()",
        [_change("copy.txt", "copied", "long.txt"), _change("long.txt", "modified")]),
    "a copy of an unchanged file is an addition": (
        _copy_of_unchanged_file, "changes()", [_change("copy.txt", "added")]),
    "a file replaced by a symlink": (_file_becomes_symlink, "changes()",
                                     [_change("src/app.py", "type_changed")]),
    "odd names survive a rename": (_odd_names_renamed, "changes()",
                                   [_change('q"ü\\.txt', "renamed", "a b\tc\nd.txt")]),
    "root commit: every file added": (_nothing, "changes()", [
        _change("README", "added"), _change("docs/a.md", "added"),
        _change("src/app.py", "added")]),
    "a merge compares to its first parent": (_merge, "changes()",
                                             [_change("docs/a.md", "deleted")]),
    "ctx.changes with two refs": (_edit_add_delete, 'ctx.changes("HEAD~1", "HEAD")', [
        _change("docs/a.md", "deleted"), _change("new.txt", "added"),
        _change("src/app.py", "modified")]),
    "nothing changed": (_nothing, 'changes("HEAD", "HEAD")', []),
}


@pytest.mark.parametrize("setup, expression, expected", CASES.values(), ids=CASES.keys())
def test_changes(tmp_path: Path, setup: Setup, expression: str,
                 expected: list[dict[str, Any]]) -> None:
    repo = make_repo(tmp_path / "repo",
                     [{"README": "r\n", "src/app.py": "v1\n", "docs/a.md": "a\n"}])
    setup(repo)
    result, value = capture(tmp_path, repo.path, expression)
    assert result.code == 0, result.output
    assert sorted(value, key=lambda c: c["path"]) == expected


def test_changed_files_lists_both_sides_of_a_rename_that_changes_reports_once(
        tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", [{"README": "r\n", "docs/a.md": "a\n"}])
    _exact_rename(repo)
    result, value = capture(tmp_path, repo.path, "[changed_files(), changes()]")
    assert result.code == 0, result.output
    assert value == [["docs/a.md", "guide/a.md"],
                     [_change("guide/a.md", "renamed", "docs/a.md")]]
