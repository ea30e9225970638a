"""Pipeline test cases: reading and checking one TOML case (the format:
docs/pipeline-tests.md). Finding them is engine.pipeline_tests.discovery."""

from __future__ import annotations

import os

from engine.common.record import Record
from engine.common.secret import TOKEN_VAR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

DEFAULT_COMMIT = "0123456789abcdef0123456789abcdef01234567"


class CaseError(Exception):
    """A test case file that cannot be used; the message says why."""


class Expectation(Record):
    """What a case expects: inline jobs, a golden triggers file, or an error."""

    __slots__ = ("error", "golden", "jobs", "output")

    def __init__(self, *, jobs: list[dict[str, Any]] | None, golden: str | None,
                 error: str | None, output: tuple[str, ...]) -> None:
        self.jobs = jobs
        self.golden = golden
        self.error = error
        self.output = output


class Case(Record):
    """One TOML test case, its paths resolved relative to the case file."""

    __slots__ = ("coordinator", "description", "env", "existing", "expect", "git", "path",
                 "pipeline", "policy", "repository", "src")

    def __init__(self, *, path: str, description: str, pipeline: str, src: str,
                 policy: tuple[str, ...], existing: str | None, env: dict[str, str],
                 git: dict[str, Any], coordinator: dict[str, Any] | None,
                 expect: Expectation, repository: dict[str, Any] | None = None) -> None:
        self.path = path
        self.description = description
        self.pipeline = pipeline
        self.src = src
        self.policy = policy
        self.existing = existing
        self.env = env
        self.git = git
        self.coordinator = coordinator
        self.expect = expect
        # A checked [repository] table: git questions go to a real repository built from
        # it (engine.pipeline_tests.repository), not to the [git] answers.
        self.repository = repository


# -- reading a TOML case -------------------------------------------------------------

_TOP = {"description": "string", "pipeline": "string", "src": "string",
        "policy": "list of strings", "existing": "string", "env": "table of strings",
        "git": "table", "repository": "table", "coordinator": "table", "expect": "table"}
_GIT = {"branch": "string", "commit": "string", "tag": "string", "remote_url": "string",
        "changes": "list", "ranges": "table", "missing": "list of strings"}
_COORDINATOR = {"running": "list of strings", "results": "table", "error": "string"}
_RESULT = {"job_id": "string", "status": "string", "exit_code": "integer",
           "started_at": "string", "completed_at": "string"}
_EXPECT = {"jobs": "list", "golden": "string", "error": "string", "output": "list of strings"}
_CHANGE = {"path": "string", "status": "string", "old_path": "string"}
_REPOSITORY = {"branch": "string", "commits": "list", "origin": "table", "tags": "list",
               "detached": "boolean", "remote_url": "string"}
_TAG = {"name": "string", "at": "integer", "message": "string"}


def _checked(table: Any, schema: dict[str, str], where: str) -> dict[str, Any]:
    """`table` when its keys are in `schema` and of their kinds; `where` is its dotted name
    ("" for the top level)."""
    if not isinstance(table, dict):
        raise CaseError(f"{where} must be a table")
    for key, value in table.items():
        name = f"{where}.{key}" if where else key
        if key not in schema:
            from engine.common.suggest import did_you_mean

            hint = did_you_mean(key, schema)
            raise CaseError(f"unknown key {name}{hint or ' (known: ' + ', '.join(schema) + ')'}")
        kind = schema[key]
        ok = {
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "list": isinstance(value, list),
            "table": isinstance(value, dict),
            "list of strings": isinstance(value, list) and all(isinstance(v, str)
                                                               for v in value),
            "table of strings": isinstance(value, dict) and all(isinstance(v, str)
                                                                for v in value.values()),
        }[kind]
        if not ok:
            from engine.policy import with_article

            raise CaseError(f"{name} must be {with_article(kind)}")
    return table


def _change(item: Any, where: str) -> dict[str, str | None]:
    from engine.capabilities.git.memory import STATUSES

    if isinstance(item, str):
        return {"path": item, "status": "modified", "old_path": None}
    table = _checked(item, _CHANGE, where)
    if "path" not in table:
        raise CaseError(f"{where} needs a path")
    status = table.get("status", "modified")
    if status not in STATUSES:
        raise CaseError(f"{where}.status must be one of {', '.join(STATUSES)}, not {status!r}")
    old = table.get("old_path")
    if status in ("renamed", "copied") and old is None:
        raise CaseError(f"{where}: a {status} file needs old_path")
    return {"path": table["path"], "status": status, "old_path": old}


def _changes(items: Any, where: str) -> list[dict[str, str | None]]:
    if not isinstance(items, list):
        raise CaseError(f"{where} must be a list of paths or {{path, status, old_path}} tables")
    return [_change(item, f"{where}[{n}]") for n, item in enumerate(items)]


def read_case(path: str) -> Case:
    """Read and check one TOML case; CaseError saying what is wrong."""
    import tomllib

    from engine.common.regular_file import FileRefused, MiB, read_regular

    try:
        data = tomllib.loads(read_regular(path, MiB, what="case").decode("utf-8"))
    except FileRefused as err:
        raise CaseError(str(err)) from None
    except UnicodeDecodeError:
        raise CaseError("not UTF-8 text") from None
    except OSError as err:
        raise CaseError(f"cannot read: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise CaseError(f"not valid TOML: {err}") from None
    _checked(data, _TOP, "")
    if "pipeline" not in data:
        raise CaseError("a case needs `pipeline` (the pipeline file, relative to the case)")
    here = os.path.dirname(path)
    root = _case_root(here)

    def near(relative: str) -> str:
        joined = os.path.normpath(os.path.join(here, relative))
        real = os.path.realpath(joined)
        if real != root and not real.startswith(root + os.sep):
            raise CaseError(f"{relative!r} leads outside the case's tree ({root}); a case "
                            "reads and writes only files of its own repository")
        return joined

    pipeline = near(data["pipeline"])
    env = dict(data.get("env", {}))
    if TOKEN_VAR in env:
        raise CaseError(f"env.{TOKEN_VAR}: a case holds no secrets (the coordinator's answers "
                        "come from [coordinator])")
    if "git" in data and "repository" in data:
        raise CaseError("give [git] (answers) or [repository] (a real repository to ask), "
                        "not both")
    repository = repository_table(data["repository"]) if "repository" in data else None
    git = _git_answers(data.get("git", {}))
    coordinator = (_coordinator_answers(data["coordinator"]) if "coordinator" in data
                   else None)
    return Case(
        path=path,
        description=str(data.get("description", "")),
        pipeline=pipeline,
        src=near(data["src"]) if "src" in data else os.path.dirname(pipeline) or ".",
        policy=tuple(near(p) for p in data.get("policy", [])),
        existing=near(data["existing"]) if "existing" in data else None,
        env=env,
        git=git,
        coordinator=coordinator,
        expect=_expectation(data.get("expect", {}), path, near),
        repository=repository,
    )


def _git_answers(table: Any) -> dict[str, Any]:
    """The `[git]` table, checked: the answers git questions get."""
    git = _checked(table, _GIT, "git")
    ranges: dict[tuple[str, str | None], list[dict[str, str | None]]] = {}
    for expression, items in git.get("ranges", {}).items():
        ranges[_range_key(expression)] = _changes(items, f'git.ranges."{expression}"')
    info = {key: git[key] for key in ("branch", "commit", "tag", "remote_url") if key in git}
    info.setdefault("commit", DEFAULT_COMMIT)
    return {"changes": _changes(git.get("changes", []), "git.changes"),
            "ranges": ranges, "info": info, "missing": tuple(git.get("missing", ()))}


def _coordinator_answers(table: Any) -> dict[str, Any]:
    """The `[coordinator]` table, checked: the jobs running and their last results."""
    checked = _checked(table, _COORDINATOR, "coordinator")
    results = {name: _checked(result, _RESULT, f"coordinator.results.{name}")
               for name, result in checked.get("results", {}).items()}
    return {"running": tuple(checked.get("running", ())), "results": results,
            "error": checked.get("error")}


def repository_table(table: Any) -> dict[str, Any]:
    """The `[repository]` table, checked, with its defaults filled in."""
    spec = _checked(table, _REPOSITORY, "repository")
    commits = spec.get("commits")
    if not commits:
        raise CaseError("repository.commits must list at least one commit (a table of "
                        "path = content)")
    files = [_commit(item, f"repository.commits[{n}]") for n, item in enumerate(commits)]
    count = len(files)
    origin = {}
    for name, at in spec.get("origin", {}).items():
        where = f"repository.origin.{name}"
        origin[_ref_name(name, where)] = _commit_number(at, count, where)
    tags = []
    for n, item in enumerate(spec.get("tags", [])):
        where = f"repository.tags[{n}]"
        tag = _checked(item, _TAG, where)
        if "name" not in tag:
            raise CaseError(f"{where} needs a name")
        tags.append({"name": _ref_name(tag["name"], f"{where}.name"),
                     "at": _commit_number(tag.get("at", count), count, f"{where}.at"),
                     "message": tag.get("message")})
    return {"branch": _ref_name(spec.get("branch", "main"), "repository.branch"),
            "commits": files, "origin": origin, "tags": tags,
            "detached": spec.get("detached", False), "remote_url": spec.get("remote_url")}


def _commit(item: Any, where: str) -> dict[str, str | None]:
    if not isinstance(item, dict):
        raise CaseError(f"{where} must be a table of path = content (false deletes)")
    out: dict[str, str | None] = {}
    for path, content in item.items():
        parts = path.split("/")
        if (path.startswith("/") or any(p in ("", ".", "..") for p in parts)
                or parts[0] == ".git" or "\0" in path):
            raise CaseError(f"{where}: {path!r} is not a relative path inside the repository")
        if content is False:
            out[path] = None
        elif isinstance(content, str):
            out[path] = content
        else:
            raise CaseError(f"{where}.{path!r} must be the file's text, or false to delete it")
    return out


def _commit_number(value: Any, count: int, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= count:
        raise CaseError(f"{where} must be a commit number from 1 to {count}")
    return value


def _ref_name(value: Any, where: str) -> str:
    """`value` when git takes it as a branch or tag name (a subset of git's rules that
    keeps every name git refuses out)."""
    if (not isinstance(value, str) or not value or value.startswith(("-", "/", "."))
            or value.endswith(("/", ".lock", ".")) or ".." in value or "//" in value
            or "@{" in value or any(c in value for c in " ~^:?*[\\\x7f")
            or any(ord(c) < 32 for c in value)):
        raise CaseError(f"{where} must be a git branch or tag name, not {value!r}")
    return value


def _case_root(here: str) -> str:
    """Where a case's paths must stay: the checkout the case is in (the nearest directory
    with a `.git` from the case upward); outside any checkout, the working directory
    when the case is below it, else the case's own directory."""
    start = os.path.realpath(here or ".")
    probe = start
    while True:
        if os.path.lexists(os.path.join(probe, ".git")):
            return probe
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    cwd = os.path.realpath(".")
    return cwd if start == cwd or start.startswith(cwd.rstrip(os.sep) + os.sep) else start


def _range_key(expression: str) -> tuple[str, str | None]:
    from engine.capabilities.base import CapabilityError
    from engine.capabilities.git.refs import normalize

    if ".." not in expression:
        raise CaseError(f'git.ranges."{expression}": a range is "A..B" or "A...B"')
    try:
        return normalize(expression, None)
    except CapabilityError as err:
        raise CaseError(f'git.ranges."{expression}": {err}') from None


def _expectation(table: Any, path: str, near: Callable[[str], str]) -> Expectation:
    expect = _checked(table, _EXPECT, "expect")
    given = [key for key in ("jobs", "golden", "error") if key in expect]
    if len(given) > 1:
        raise CaseError(f"expect: give one of jobs, golden and error, not {' and '.join(given)}")
    jobs = expect.get("jobs")
    if jobs is not None and not all(isinstance(job, dict) for job in jobs):
        raise CaseError("expect.jobs must be a list of job tables")
    golden = None
    if "error" not in expect and jobs is None:
        stem = os.path.basename(path).removesuffix(".toml")
        golden = near(expect.get("golden", f"{stem}.triggers.json"))
    return Expectation(jobs=jobs, golden=golden, error=expect.get("error"),
                       output=tuple(expect.get("output", ())))
