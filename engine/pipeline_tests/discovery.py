"""Finding pipeline test cases, and the files beside them that look like cases but are not.

A case is a TOML file with a top-level `pipeline` key, or a transcript (JSON written by
`ingest --record`). Directories are searched recursively; other files are ignored, except
that a `.toml` or `.json` file beside the cases that no case refers to is reported (a case
with a typo in its keys must fail, never be skipped).
"""

from __future__ import annotations

import json
import os

from engine.pipeline_tests.cases import CaseError, read_case

_SKIPPED_DIRS = frozenset({"__pycache__", "node_modules"})


def discover(paths: list[str]) -> list[str]:
    """Case files under `paths` (files as given, directories searched), sorted per path;
    see also `strays`."""
    found: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            found.extend(sorted(os.path.normpath(p) for p in _walk(path)))
        elif os.path.exists(path):
            found.append(os.path.normpath(path))
        else:
            raise CaseError(f"{path}: no such file or directory")
    return list(dict.fromkeys(found))


# The kinds of file a case is written in: one of these beside the cases that is not
# a case, nor referred to by one, is a case gone wrong.
_CASE_KINDS = (".toml", ".json")


def strays(cases: list[str]) -> list[str]:
    """`.toml` and `.json` files in the directories holding `cases` that are neither a
    case nor referred to by one (as its pipeline, golden, existing triggers file or
    policy): a case with a typo in its keys must fail, never be skipped."""
    referred: set[str] = set()
    directories: set[str] = set()
    for path in cases:
        directories.add(os.path.dirname(path) or ".")
        if path.endswith(".toml"):
            try:
                case = read_case(path)
            except CaseError:
                continue
            referred.update(p for p in (case.pipeline, case.existing, case.expect.golden,
                                        *case.policy) if p)
    known = {os.path.normpath(p) for p in (*cases, *referred)}
    out: list[str] = []
    for directory in sorted(directories):
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = os.path.normpath(os.path.join(directory, name))
            if (name.startswith(".") or not name.endswith(_CASE_KINDS) or path in known
                    or not os.path.isfile(path)):
                continue
            out.append(path)
    return out


def stray_reason(path: str) -> str:
    """Why a stray file is reported."""
    if path.endswith(".toml"):
        try:
            read_case(path)
        except CaseError as err:
            return f"invalid test case: {err} (and no case refers to this file as its policy)"
        return "not a test case, and no case refers to this file as its policy"
    if path.endswith(".json"):
        return ("not a test case: not a transcript, and no case refers to this file (as its "
                "golden or existing triggers file)")
    return "not a test case, and no case refers to it"


def _walk(root: str) -> list[str]:
    out: list[str] = []
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and d not in _SKIPPED_DIRS]
        for name in files:
            path = os.path.join(directory, name)
            toml = name.endswith(".toml") and _is_toml_case(path)
            if toml or (name.endswith(".json") and _is_transcript(path)):
                out.append(path)
    return out


def _is_toml_case(path: str) -> bool:
    import tomllib

    from engine.common.regular_file import MiB, read_regular

    try:
        return "pipeline" in tomllib.loads(read_regular(path, MiB).decode("utf-8"))
    except (OSError, ValueError, tomllib.TOMLDecodeError):
        return True  # reported as a broken case rather than silently skipped


def _is_transcript(path: str) -> bool:
    from engine.common.regular_file import read_regular
    from engine.transcripts.transcript import MAX_BYTES, is_transcript

    try:
        return is_transcript(json.loads(read_regular(path, MAX_BYTES).decode("utf-8")))
    except (OSError, ValueError, RecursionError):
        return False
