"""The triggers file as the real CLI writes it: format, append, corrupt input, races, ids."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.core.jobs import OPTIONAL_FIELDS
from engine.triggers.file import parse_existing
from tests.conftest import GitRepoFactory
from tests.support.engine_run import REPO_ROOT, Result, clean_env, run_cli

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
REQUIRED_ORDER = ["job_name", "depends_on", "condition", "env"]
# Environment that gives ctx its git facts without any git repository.
NO_GIT_ENV = {"REACTORCIDE_BRANCH": "main", "REACTORCIDE_SHA": "a" * 40,
              "REACTORCIDE_GIT_REF": "refs/heads/main"}


def make_src(root: Path, text: str) -> Path:
    """A source directory holding `pipeline.star` with `text`."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.star").write_text(text, encoding="utf-8")
    return root


def ingest(src: Path, triggers: Path, *extra: str, env: dict[str, str] | None = None) -> Result:
    """`python -m engine ingest` on `src`, writing to `triggers`."""
    return run_cli("ingest", "--src", src, "--triggers-file", triggers, *extra,
                      env={**NO_GIT_ENV, **(env or {})})


def load(path: Path) -> dict[str, Any]:
    """The parsed triggers document."""
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def names(path: Path) -> list[str]:
    """Job names in file order."""
    return [job["job_name"] for job in load(path)["jobs"]]


def listing(directory: Path) -> list[str]:
    """Every entry of a directory, hidden ones included."""
    return sorted(p.name for p in directory.iterdir())


def starlark_value(value: Any) -> str:
    """A Starlark literal (JSON is Starlark for strings, ints, lists and dicts)."""
    return json.dumps(value, ensure_ascii=False)


SAMPLE_VALUES = {
    "str": "v",
    "int": 7,
    "timeout": 900,
    "source_type": "git",
    "str_list": ["x", "y"],
    "env_name": "ITEM_X",
    "map": {"zone": "b", "arch": "amd64"},
    "for_each": ["x", "y"],
}
# Fields whose value the coordinator's own rules shape; job_file it never accepts.
SAMPLE_BY_KEY = {"resources": {"memory": {"limit": "4Gi"}, "cpu": {"request": "500m"}}}
WRITTEN_FIELDS = {key: kind for key, kind in OPTIONAL_FIELDS.items() if key != "job_file"}


def sample(key: str, kind: str) -> object:
    """The value the full job sets for one field."""
    return SAMPLE_BY_KEY.get(key, SAMPLE_VALUES[kind])


def full_job_pipeline() -> str:
    """One job setting every optional field, given in reverse order of the file's order."""
    args = [f"    {key} = {starlark_value(sample(key, kind))},"
            for key, kind in reversed(list(WRITTEN_FIELDS.items()))]
    return "\n".join([
        'trigger_job("base")',
        "trigger_job(",
        '    "full",',
        *args,
        '    condition = "always",',
        '    env = {"ZED": "z", "GREETING": "h\u00e9llo \u2603 \u65e5\u672c"},',
        '    depends_on = ["base"],',
        ")",
        'trigger_job("nones", priority = None, timeout = None, container_image = None)',
        "",
    ])


# --- format --------------------------------------------------------------------------


def test_written_format(tmp_path: Path) -> None:
    src = make_src(tmp_path / "src", full_job_pipeline())
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()

    result = ingest(src, triggers)

    assert result.code == 0, result.output
    raw = triggers.read_bytes()
    doc = json.loads(raw.decode("utf-8"))
    assert raw == (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    assert raw.endswith(b"}\n") and not raw.endswith(b"\n\n")
    assert b'\n  "type": "trigger_job",\n' in raw
    assert "h\u00e9llo \u2603 \u65e5\u672c".encode() in raw
    assert b"\\u" not in raw
    assert list(doc) == ["type", "trigger_type", "operation_id", "jobs"]
    assert doc["trigger_type"] == "runnerlib"
    assert UUID_RE.match(doc["operation_id"])
    assert doc["operation_id"] in result.stdout

    base, full, nones = doc["jobs"]
    assert base == {"job_name": "base", "depends_on": [], "condition": "all_success", "env": {}}
    assert list(nones) == REQUIRED_ORDER
    assert list(full) == [*REQUIRED_ORDER, *WRITTEN_FIELDS]
    assert full["depends_on"] == ["base"]
    assert full["condition"] == "always"
    assert full["env"] == {"GREETING": "h\u00e9llo \u2603 \u65e5\u672c", "ZED": "z"}
    for key, kind in WRITTEN_FIELDS.items():
        assert full[key] == sample(key, kind), key
    assert list(full["characteristics"]) == sorted(full["characteristics"])
    assert list(full["env"]) == sorted(full["env"])


def test_jobs_are_written_in_call_order(tmp_path: Path) -> None:
    order = ["zeta", "alpha", "mid", "beta"]
    src = make_src(tmp_path / "src", "".join(f'trigger_job("{n}")\n' for n in order))
    triggers = tmp_path / "triggers.json"
    assert ingest(src, triggers).code == 0
    assert names(triggers) == order


# --- append --------------------------------------------------------------------------

FIRST = 'trigger_job("a")\ntrigger_job("b", depends_on = ["a"])\n'
SECOND = 'trigger_job("c", depends_on = ["a"])\ntrigger_job("d", depends_on = ["c", "b"])\n'


def _two_runs(root: Path) -> tuple[Path, dict[str, Any], Result]:
    triggers = root / "triggers.json"
    assert ingest(make_src(root / "one", FIRST), triggers).code == 0
    before = load(triggers)
    second = ingest(make_src(root / "two", SECOND), triggers)
    return triggers, before, second


def test_append_keeps_existing_jobs_first(tmp_path: Path) -> None:
    triggers, before, second = _two_runs(tmp_path)

    assert second.code == 0, second.output
    after = load(triggers)
    assert [j["job_name"] for j in after["jobs"]] == ["a", "b", "c", "d"]
    assert after["jobs"][:2] == before["jobs"]
    assert after["jobs"][2]["depends_on"] == ["a"]
    assert after["operation_id"] != before["operation_id"]
    assert UUID_RE.match(after["operation_id"])
    parse_existing(triggers.read_bytes(), str(triggers))


def test_append_is_deterministic(tmp_path: Path) -> None:
    one, _, first = _two_runs(tmp_path / "x")
    two, _, second = _two_runs(tmp_path / "y")
    assert first.code == second.code == 0
    assert one.read_bytes() == two.read_bytes()


def test_append_to_a_hand_written_file(tmp_path: Path) -> None:
    triggers = tmp_path / "triggers.json"
    existing = {
        "type": "trigger_job",
        "operation_id": "from-runnerlib",
        "jobs": [{"job_name": "legacy", "env": {"K": "v"}, "depends_on": [],
                  "condition": "all_success", "priority": 2}],
    }
    triggers.write_text(json.dumps(existing), encoding="utf-8")
    src = make_src(tmp_path / "src", 'trigger_job("new", depends_on = ["legacy"])\n')

    result = ingest(src, triggers)

    assert result.code == 0, result.output
    doc = load(triggers)
    assert doc["jobs"][0] == existing["jobs"][0]
    assert [j["job_name"] for j in doc["jobs"]] == ["legacy", "new"]
    assert doc["operation_id"] != "from-runnerlib"


def test_name_clash_with_an_existing_job_is_an_error(tmp_path: Path) -> None:
    triggers = tmp_path / "triggers.json"
    assert ingest(make_src(tmp_path / "one", FIRST), triggers).code == 0
    before = triggers.read_bytes()
    src = make_src(tmp_path / "two", 'trigger_job("c")\n\ntrigger_job("b")\n')

    result = ingest(src, triggers)

    assert result.code == 1
    first_line = result.stderr.splitlines()[0]
    assert first_line.endswith('error: job "b" is already in the triggers file')
    assert first_line.startswith(f"{src / 'pipeline.star'}:3:1: ")
    assert triggers.read_bytes() == before


def test_unknown_dependency_is_checked_against_the_existing_file(tmp_path: Path) -> None:
    triggers = tmp_path / "triggers.json"
    assert ingest(make_src(tmp_path / "one", FIRST), triggers).code == 0
    before = triggers.read_bytes()
    result = ingest(make_src(tmp_path / "two", 'trigger_job("c", depends_on = ["zz"])\n'),
                    triggers)
    assert result.code == 1
    assert 'depends on "zz", which no trigger creates' in result.stderr
    assert triggers.read_bytes() == before


# --- corrupt existing file -----------------------------------------------------------

_VALID_JOB = {"job_name": "x", "depends_on": [], "condition": "all_success", "env": {}}


def _doc(**overrides: Any) -> bytes:
    doc: dict[str, Any] = {"type": "trigger_job", "operation_id": "id", "jobs": [_VALID_JOB]}
    doc.update(overrides)
    return json.dumps({k: v for k, v in doc.items() if v is not ...}).encode()


CORRUPT: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not json", b"this is not json\n"),
    ("truncated", _doc()[:-7]),
    ("not utf-8", b'{"type": "trigger_job", "jobs": [], "x": "\xff\xfe"}'),
    ("json list", json.dumps([_VALID_JOB]).encode()),
    ("json string", b'"trigger_job"'),
    ("json null", b"null"),
    ("version key", _doc(version=1)),
    ("unknown top-level key", _doc(extra="x")),
    ("wrong type", _doc(type="workflow")),
    ("missing type", _doc(type=...)),
    ("jobs not a list", _doc(jobs={"x": _VALID_JOB})),
    ("jobs missing", _doc(jobs=...)),
    ("operation_id int", _doc(operation_id=5)),
    ("job not an object", _doc(jobs=["x"])),
    ("job without name", _doc(jobs=[{"depends_on": []}])),
    ("job env not string", _doc(jobs=[{**_VALID_JOB, "env": {"N": 1}}])),
    ("job reserved env", _doc(jobs=[{**_VALID_JOB, "env": {"RC_WF_ID": "1"}}])),
    ("job bad condition", _doc(jobs=[{**_VALID_JOB, "condition": "sometimes"}])),
    ("job priority bool", _doc(jobs=[{**_VALID_JOB, "priority": True}])),
    ("job forbidden org", _doc(jobs=[{**_VALID_JOB, "org": "acme"}])),
    ("duplicate job", _doc(jobs=[_VALID_JOB, _VALID_JOB])),
]

MODES = {
    "ingest": ('trigger_job("new")\n', ()),
    "dry-run": ('trigger_job("new")\n', ("--dry-run",)),
    "no trigger": ("x = 1\n", ()),
}


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize(("content"), [c for _, c in CORRUPT], ids=[i for i, _ in CORRUPT])
def test_corrupt_existing_file_is_left_untouched(tmp_path: Path, content: bytes,
                                                 mode: str) -> None:
    text, extra = MODES[mode]
    out = tmp_path / "out"
    out.mkdir()
    triggers = out / "triggers.json"
    triggers.write_bytes(content)
    src = make_src(tmp_path / "src", text)

    result = ingest(src, triggers, *extra)

    assert result.code == 2, result.output
    assert triggers.read_bytes() == content
    assert listing(out) == ["triggers.json"]
    assert result.stderr.startswith(f"{triggers}: error: existing triggers file is not valid")
    assert "Traceback" not in result.stderr


# --- nothing to write ----------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "x = 1\n",
    "",
    'if False:\n    trigger_job("never")\n',
    'def later():\n    trigger_job("never")\n',
])
def test_no_trigger_writes_no_file(tmp_path: Path, text: str) -> None:
    out = tmp_path / "out"
    out.mkdir()
    triggers = out / "triggers.json"
    result = ingest(make_src(tmp_path / "src", text), triggers)
    assert result.code == 0, result.output
    assert "triggered no jobs" in result.stdout
    assert f"{triggers} was not written" in result.stdout
    assert listing(out) == []


@pytest.mark.parametrize(("text", "extra"), [
    ("x = 1\n", ()),
    ('trigger_job("new")\n', ("--dry-run",)),
])
def test_existing_file_untouched_without_a_write(tmp_path: Path, text: str,
                                                 extra: tuple[str, ...]) -> None:
    triggers = tmp_path / "triggers.json"
    assert ingest(make_src(tmp_path / "one", FIRST), triggers).code == 0
    before = triggers.read_bytes()
    stat = triggers.stat()

    result = ingest(make_src(tmp_path / "two", text), triggers, *extra)

    assert result.code == 0, result.output
    assert triggers.read_bytes() == before
    assert (triggers.stat().st_ino, triggers.stat().st_mtime_ns) == (stat.st_ino,
                                                                    stat.st_mtime_ns)
    assert listing(tmp_path) == ["one", "triggers.json", "two"]


def test_dry_run_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = ingest(make_src(tmp_path / "src", FIRST), out / "triggers.json", "--dry-run")
    assert result.code == 0, result.output
    assert "dry run: nothing written" in result.stdout
    assert listing(out) == []


# --- concurrency ---------------------------------------------------------------------

WRITERS = 8
JOBS_EACH = 25


def test_concurrent_ingests_lose_no_job(tmp_path: Path) -> None:
    triggers = tmp_path / "out" / "triggers.json"
    triggers.parent.mkdir()
    expected: set[str] = set()
    commands = []
    for w in range(WRITERS):
        lines = [f'trigger_job("w{w}-j0")']
        lines += [f'trigger_job("w{w}-j{k}", depends_on = ["w{w}-j{k - 1}"])'
                  for k in range(1, JOBS_EACH)]
        expected |= {f"w{w}-j{k}" for k in range(JOBS_EACH)}
        src = make_src(tmp_path / f"src{w}", "\n".join(lines) + "\n")
        commands.append([sys.executable, "-m", "engine", "--src", str(src),
                         "--triggers-file", str(triggers)])

    procs = [subprocess.Popen(cmd, cwd=REPO_ROOT, env=clean_env(**NO_GIT_ENV),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              stdin=subprocess.DEVNULL)
             for cmd in commands]
    outputs = [proc.communicate(timeout=120) for proc in procs]

    for proc, (stdout, stderr) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, stdout + stderr
    raw = triggers.read_bytes()
    existing = parse_existing(raw, str(triggers))
    assert len(existing.jobs) == WRITERS * JOBS_EACH
    assert set(existing.names) == expected
    assert listing(triggers.parent) == ["triggers.json"]
    for w in range(WRITERS):  # each writer's jobs stay together and in order
        own = [n for n in existing.names if n.startswith(f"w{w}-")]
        assert own == [f"w{w}-j{k}" for k in range(JOBS_EACH)]


# --- determinism and the operation id ------------------------------------------------


def test_same_inputs_give_identical_bytes(tmp_path: Path) -> None:
    src = make_src(tmp_path / "src", full_job_pipeline())
    env = {"REACTORCIDE_JOB_ID": "job-42"}
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    assert ingest(src, one, env=env).code == 0
    assert ingest(src, two, env=env).code == 0
    assert one.read_bytes() == two.read_bytes()


BASE_ENV = {"REACTORCIDE_SHA": "1" * 40, "REACTORCIDE_JOB_ID": "job-1"}
BASE_TEXT = 'trigger_job("build")\ntrigger_job("test", depends_on = ["build"])\n'

ID_VARIANTS: list[tuple[str, dict[str, str], str, bool]] = [
    ("same inputs", {}, BASE_TEXT, True),
    ("other REACTORCIDE_SHA", {"REACTORCIDE_SHA": "2" * 40}, BASE_TEXT, False),
    ("REACTORCIDE_GIT_COMMIT wins", {"REACTORCIDE_GIT_COMMIT": "3" * 40}, BASE_TEXT, False),
    ("other job id", {"REACTORCIDE_JOB_ID": "job-2"}, BASE_TEXT, False),
    ("other source, same jobs", {}, "# a comment\n" + BASE_TEXT, True),
    ("other jobs", {}, BASE_TEXT + 'trigger_job("lint")\n', False),
]


@pytest.mark.parametrize(("env", "text", "same"), [(e, t, s) for _, e, t, s in ID_VARIANTS],
                         ids=[v[0] for v in ID_VARIANTS])
def test_operation_id_follows_the_inputs(tmp_path: Path, env: dict[str, str], text: str,
                                         same: bool) -> None:
    base, other = tmp_path / "base.json", tmp_path / "other.json"
    assert ingest(make_src(tmp_path / "a", BASE_TEXT), base, env=BASE_ENV).code == 0
    assert ingest(make_src(tmp_path / "b", text), other, env={**BASE_ENV, **env}).code == 0
    assert (load(base)["operation_id"] == load(other)["operation_id"]) is same


# --- real git repositories -----------------------------------------------------------

GIT_PIPELINE = """\
trigger_job("build", env = {"BRANCH": ctx.branch or "", "COMMIT": ctx.commit or ""})
for path in changed_files("HEAD^", "HEAD"):
    if path.startswith("docs/"):
        trigger_job("docs", depends_on = ["build"])
        break
"""


def _git_ingest(src: Path, triggers: Path) -> Result:
    return run_cli("--src", src, "--triggers-file", triggers)


def test_context_and_changes_from_a_real_repository(
    tmp_path: Path, git_repo_factory: GitRepoFactory
) -> None:
    repo = git_repo_factory([{"pipeline.star": GIT_PIPELINE}, {"docs/index.md": "# hi\n"}])
    triggers = tmp_path / "triggers.json"

    result = _git_ingest(repo.path, triggers)

    assert result.code == 0, result.output
    build, docs = load(triggers)["jobs"]
    assert build["env"] == {"BRANCH": "main", "COMMIT": repo.head()}
    assert docs["job_name"] == "docs"


def test_no_docs_change_no_docs_job(tmp_path: Path, git_repo_factory: GitRepoFactory) -> None:
    repo = git_repo_factory([{"pipeline.star": GIT_PIPELINE}, {"src/main.py": "x = 1\n"}])
    triggers = tmp_path / "triggers.json"
    assert _git_ingest(repo.path, triggers).code == 0
    assert names(triggers) == ["build"]


def test_git_commit_feeds_the_operation_id(
    tmp_path: Path, git_repo_factory: GitRepoFactory
) -> None:
    """Two commits, same pipeline and same jobs: the commit read from git still counts."""
    text = 'trigger_job("build", env = {"BRANCH": ctx.branch or ""})\n'
    one = git_repo_factory([{"pipeline.star": text}])
    two = git_repo_factory([{"pipeline.star": text}, {"other.txt": "x\n"}])
    assert one.head() != two.head()
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    assert _git_ingest(one.path, first).code == 0
    assert _git_ingest(two.path, second).code == 0
    assert load(first)["jobs"] == load(second)["jobs"]
    assert load(first)["operation_id"] != load(second)["operation_id"]
