"""The glob dialect of `changes_include` / `changes_only`, table-driven, and the two
builtins through the real CLI on a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline_builtins.globs import GlobError, all_match, any_match, join_paths, matches
from tests.git.scenarios import capture
from tests.support.case_ids import case_id
from tests.support.gitrepo import make_repo

# glob -> (paths it matches, paths it does not match)
DIALECT: dict[str, tuple[list[str], list[str]]] = {
    "*.py": (["setup.py", ".hidden.py"], ["src/app.py", "setup.pyc", "setup.py/x"]),
    "src/*.py": (["src/app.py"], ["src/sub/app.py", "app.py", "src/.py/x"]),
    "src/*": (["src/app.py", "src/.env"], ["src/sub/app.py", "src"]),
    "**/*.py": (["app.py", "src/app.py", "a/b/c/app.py", ".github/x.py"], ["app.pyc"]),
    "**.py": (["app.py", "src/deep/app.py"], ["app.py.txt"]),
    "docs/**": (["docs/a.md", "docs/x/y/z.png", "docs/.keep"], ["docs", "mydocs/a.md"]),
    "docs/": (["docs/a.md", "docs/x/y.png"], ["docs", "docs.md"]),
    "a/**/b": (["a/b", "a/x/b", "a/x/y/b"], ["a/xb", "ab", "a/b/c"]),
    "**": (["x", "a/b/c", ".env"], []),
    "**/test_*.py": (["test_a.py", "pkg/tests/test_b.py"], ["pkg/a_test.py"]),
    "?.md": (["a.md", "..md"], ["ab.md", "/.md", "a/b.md"]),
    "[abc].txt": (["a.txt", "c.txt"], ["d.txt", "ab.txt"]),
    "[a-c]*.txt": (["b.txt", "cat.txt"], ["d.txt"]),
    "[!a-c].txt": (["d.txt", "_.txt"], ["a.txt", "/.txt"]),
    "[^a].txt": (["b.txt"], ["a.txt"]),
    "[]].txt": (["].txt"], ["a.txt"]),
    "[.-0]x": ([".x", "0x"], ["/x", "-x"]),  # the range spans "/", which never matches
    r"\*.txt": (["*.txt"], ["a.txt"]),
    r"\[a].txt": (["[a].txt"], ["a.txt"]),
    ".github/**": ([".github/workflows/ci.yml"], ["github/x"]),
    ".*": ([".env", ".gitignore"], ["a.env", "dir/.env"]),
    "*": (["README", ".env"], ["src/app.py"]),
    "dir with space/*.txt": (["dir with space/a b.txt"], ["dir/a.txt"]),
    "ünï/*.py": (["ünï/x.py"], ["uni/x.py"]),
    "a+b(c)|d$.txt": (["a+b(c)|d$.txt"], ["ab.txt"]),
    "Makefile": (["Makefile"], ["makefile", "sub/Makefile", "Makefile.am"]),
}


@pytest.mark.parametrize("glob, yes, no", [(g, y, n) for g, (y, n) in DIALECT.items()],
                         ids=[case_id(glob) for glob in DIALECT])
def test_glob_dialect(glob: str, yes: list[str], no: list[str]) -> None:
    for path in yes:
        assert matches(glob, path), (glob, path)
    for path in no:
        assert not matches(glob, path), (glob, path)


GLOB_ERRORS: dict[str, tuple[str, str]] = {
    "empty": ("", "must not be empty"),
    "absolute": ("/src/*.py", "relative to the repository root"),
    "dot-slash": ("./src/*.py", "relative to the repository root"),
    "negation": ("!docs/**", "negation is not supported"),
    "unclosed class": ("[abc.txt", "never closed"),
    "lone backslash": ("abc\\", "lone backslash"),
    "reversed range": ("[z-a].txt", "not valid"),
}


@pytest.mark.parametrize("glob, needle", GLOB_ERRORS.values(), ids=GLOB_ERRORS.keys())
def test_glob_errors(glob: str, needle: str) -> None:
    with pytest.raises(GlobError, match=needle.replace("(", r"\(")):
        matches(glob, "x")


SETS: dict[str, tuple[tuple[str, ...], list[str], bool, bool]] = {
    # globs, paths, any_match, all_match
    "nothing changed": (("**",), [], False, False),
    "one of several": (("*.md", "*.py"), ["a.py", "b.txt"], True, False),
    "every path by some glob": (("*.md", "*.py"), ["a.py", "b.md"], True, True),
    "no path": (("*.rs",), ["a.py", "b.md"], False, False),
    "the last path decides": (("*.py",), ["a.py", "b.py", "c.md"], True, False),
    "a literal present, the glob still not matching": (("**/*.py",), ["x.py.txt"],
                                                       False, False),
    "names with newlines stay whole": (("a",), ["a\nb"], False, False),
}


@pytest.mark.parametrize("globs, paths, some, every", SETS.values(), ids=SETS.keys())
def test_glob_sets(globs: tuple[str, ...], paths: list[str], some: bool, every: bool) -> None:
    joined = join_paths(paths)
    assert any_match(globs, joined) is some
    assert all_match(globs, joined) is every


def _repo(tmp_path: Path) -> Path:
    repo = make_repo(tmp_path / "repo", [
        {"README.md": "r\n", "src/app.py": "v1\n", "docs/a.md": "a\n", ".github/ci.yml": "c\n"},
        {"docs/a.md": "a2\n", "docs/img/b.png": "b\n"},
        {"src/app.py": "v2\n", ".github/ci.yml": "c2\n"},
    ])
    return repo.path


BUILTIN_CASES: dict[str, tuple[str, bool]] = {
    "include: one glob matches": ('changes_include("**/*.py")', True),
    "include: a dotfile directory": ('changes_include(".github/**")', True),
    "include: no glob matches": ('changes_include("docs/**", "*.md")', False),
    "include: any of several": ('changes_include("*.rs", "src/*.py")', True),
    "include: over a range": ('changes_include("docs/**", from_ref = "HEAD~2")', True),
    "include: keyword refs": ('changes_include("docs/**", from_ref = "HEAD~2", '
                              'to_ref = "HEAD~1")', True),
    "include: a three-dot range": ('changes_include("docs/img/*", from_ref = "HEAD~2...")',
                                   True),
    "only: every path matched": ('changes_only("src/**", ".github/**")', True),
    "only: one path left over": ('changes_only("src/**")', False),
    "only: older commit, docs only": ('changes_only("docs/", to_ref = "HEAD~1", '
                                      'from_ref = "HEAD~2")', True),
    "only: nothing changed is False": ('changes_only("**", from_ref = "HEAD", to_ref = "HEAD")',
                                       False),
    "include: nothing changed is False": (
        'changes_include("**", from_ref = "HEAD", to_ref = "HEAD")', False),
    "through ctx": ('ctx.changes_include("src/*.py") and ctx.changes_only("src/*", ".*/*")',
                    True),
    "a list passed with *": ('changes_include(*["*.rs", "**/*.yml"])', True),
}


@pytest.mark.parametrize("expression, expected", BUILTIN_CASES.values(),
                         ids=BUILTIN_CASES.keys())
def test_glob_builtins(tmp_path: Path, expression: str, expected: bool) -> None:
    result, value = capture(tmp_path, _repo(tmp_path), expression)
    assert result.code == 0, result.output
    assert value is expected


BUILTIN_ERRORS: dict[str, tuple[str, str]] = {
    "no glob": ("changes_include()", "changes_include: give at least one glob"),
    "a list instead of globs": ('changes_only(["*.py"])', "globs must be strings, got list"),
    "a bad glob": ('changes_include("src/[x")', "never closed"),
    "a range and to_ref": ('changes_only("*", from_ref = "A...B", to_ref = "HEAD")',
                           "leave out to_ref"),
    "an unknown keyword": ('changes_include("*", ref = "HEAD")',
                           "changes_include() has no parameter 'ref'"),
}


@pytest.mark.parametrize("expression, needle", BUILTIN_ERRORS.values(),
                         ids=BUILTIN_ERRORS.keys())
def test_glob_builtin_errors_point_at_the_call(tmp_path: Path, expression: str,
                                               needle: str) -> None:
    result, _ = capture(tmp_path, _repo(tmp_path), expression)
    assert result.code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{tmp_path / 'capture.star'}:1:"), first
    assert needle in first, first
