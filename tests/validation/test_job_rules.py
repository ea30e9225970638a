"""Job rules: `normalize_job` and the graph checks, then the same rules through the real CLI.

The unit tables cover every rule one at a time. The chunked files under `cases/` (one
per area) hold small pipelines, each with the line its first error must point at and
the exact message the engine must print there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from engine.core import validate
from engine.core.diagnostics import Location
from engine.core.job_graph import find_cycles, graph_problems
from engine.core.jobs import AUTHORITY_FIELDS, CONDITIONS, FORBIDDEN_KEYS, OPTIONAL_FIELDS, Job
from engine.core.validate import JobError, JobRules, normalize_document, normalize_job
from tests.support.case_ids import case_id
from tests.support.engine_run import run_cli

CASES_DIR = Path(__file__).parent / "cases"


@dataclass(frozen=True)
class Call:
    """The arguments of one `trigger_job` call."""

    name: Any = "job"
    env: Any = None
    depends_on: Any = None
    condition: Any = None
    extra: dict[str, Any] = field(default_factory=dict)
    rules: JobRules | None = None

    def run(self) -> dict[str, Any]:
        """`normalize_job` on these arguments."""
        return normalize_job(self.name, self.env, self.depends_on, self.condition,
                             dict(self.extra), self.rules)


@pytest.fixture(params=["one pass", "full check"])
def check(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Accepted jobs go through both checks: the one-pass check of plain jobs takes most
    of them, so the full check is also run alone (as it is for any job with a structured
    field)."""
    if request.param == "full check":
        monkeypatch.setattr(validate, "plain_fields", lambda *args: None)
    return str(request.param)


def _error_of(call: Call) -> str:
    with pytest.raises(JobError) as info:
        call.run()
    return str(info.value)


# --- job_name -----------------------------------------------------------------------

VALID_NAMES = ["a", "7", "x" * 255, "build.linux-amd64_v2", "A-Z.0_9", "1st"]

INVALID_NAMES: list[tuple[Any, str]] = [
    ("", "must not be empty"),
    ("x" * 256, "256 characters long; the limit is 255"),
    ("-lead", "is not allowed"),
    (".hidden", "is not allowed"),
    ("_under", "is not allowed"),
    ("has space", "is not allowed"),
    ("a/b", "is not allowed"),
    ("tab\t", "is not allowed"),
    ("new\nline", "is not allowed"),
    ("caf\u00e9", "is not allowed"),
    ("a[0]", "is not allowed"),
    (1, "must be a string, got int"),
    (None, "must be a string, got None"),
    (["a"], "must be a string, got list"),
]


@pytest.mark.parametrize("name", VALID_NAMES, ids=lambda n: f"len{len(n)}:{n[:12]}")
def test_valid_job_names_are_kept(name: str, check: str) -> None:
    assert Call(name=name).run()["job_name"] == name


@pytest.mark.parametrize(("name", "needle"), INVALID_NAMES,
                         ids=lambda name: case_id(repr(name)))
def test_invalid_job_names_are_refused(name: Any, needle: str) -> None:
    message = _error_of(Call(name=name))
    assert needle in message
    assert message.startswith("job_name")


# --- accepted calls and their normalised fields --------------------------------------

ACCEPTED: list[tuple[str, Call, dict[str, Any]]] = [
    ("defaults", Call(), {"env": {}, "depends_on": [], "condition": "all_success"}),
    ("env", Call(env={"A_1": "x", "_b": "", "RC_WFX": "y", "REACTORCIDEX": "z"}),
     {"env": {"A_1": "x", "_b": "", "RC_WFX": "y", "REACTORCIDEX": "z"}}),
    ("env unicode value", Call(env={"GREETING": "h\u00e9llo \u2603"}),
     {"env": {"GREETING": "h\u00e9llo \u2603"}}),
    ("depends_on", Call(depends_on=["a", "b.c"]), {"depends_on": ["a", "b.c"]}),
    ("depends_on empty", Call(depends_on=[]), {"depends_on": []}),
    ("priority zero", Call(extra={"priority": 0}), {"priority": 0}),
    ("priority negative", Call(extra={"priority": -3}), {"priority": -3}),
    ("priority high", Call(extra={"priority": 10}), {"priority": 10}),
    ("timeout one", Call(extra={"timeout": 1}), {"timeout": 1}),
    ("timeout large", Call(extra={"timeout": 86400}), {"timeout": 86400}),
    ("timeout int64 max", Call(extra={"timeout": 2**63 - 1}), {"timeout": 2**63 - 1}),
    ("priority int64 max", Call(extra={"priority": 2**63 - 1}), {"priority": 2**63 - 1}),
    ("priority int64 min", Call(extra={"priority": -(2**63)}), {"priority": -(2**63)}),
    ("unset optional", Call(extra={"priority": None}), {"priority": None}),
    ("item_var", Call(extra={"item_var": "TARGET"}), {"item_var": "TARGET"}),
    # The coordinator reads characteristics values as strings or bools only, and
    # resources only in the nested shape.
    ("characteristics", Call(extra={"characteristics": {"arch": "amd64", "gpu": True}}),
     {"characteristics": {"arch": "amd64", "gpu": True}}),
    ("resources", Call(extra={"resources": {"cpu": {"request": "500m", "limit": 2.5},
                                            "memory": {"limit": "4Gi"}}}),
     {"resources": {"cpu": {"request": "500m", "limit": 2.5}, "memory": {"limit": "4Gi"}}}),
    ("resources memory bytes", Call(extra={"resources": {"memory": {"limit": 1073741824}}}),
     {"resources": {"memory": {"limit": 1073741824}}}),
    ("resources memory GB", Call(extra={"resources": {"memory": {"limit": "4Gb"}}}),
     {"resources": {"memory": {"limit": "4Gb"}}}),
    ("resources cpu exponent", Call(extra={"resources": {"cpu": {"limit": "1e3"}}}),
     {"resources": {"cpu": {"limit": "1e3"}}}),
    ("for_each numbers and bools", Call(extra={"for_each": ["a", 3, 999999, True]}),
     {"for_each": ["a", 3, 999999, True]}),
    ("image_pull_secrets dotted", Call(extra={"image_pull_secrets": ["reg.cred-1"]}),
     {"image_pull_secrets": ["reg.cred-1"]}),
    ("strings", Call(extra={"container_image": "alpine:3", "job_command": "make test"}),
     {"container_image": "alpine:3", "job_command": "make test"}),
]
ACCEPTED += [
    (f"condition {c}", Call(condition=c), {"condition": c}) for c in CONDITIONS
]
ACCEPTED += [
    (f"{key} {value}", Call(extra={key: value}), {key: value})
    for key in ("source_type", "ci_source_type")
    for value in ("git", "copy", "none")
]
ACCEPTED += [
    (f"{key} list", Call(extra={key: ["x", "y"]}), {key: ["x", "y"]})
    for key in ("capabilities", "image_pull_secrets", "for_each")
]
ACCEPTED += [
    (f"{key} empty list", Call(extra={key: []}), {key: []})
    for key in ("capabilities", "image_pull_secrets", "for_each")
]


@pytest.mark.parametrize(("call", "expected"), [(c, e) for _, c, e in ACCEPTED],
                         ids=[i for i, _, _ in ACCEPTED])
def test_accepted_calls(call: Call, expected: dict[str, Any], check: str) -> None:
    fields = call.run()
    assert fields["job_name"] == call.name
    for key, value in expected.items():
        assert fields[key] == value
    assert set(fields) == {"job_name", "env", "depends_on", "condition", *call.extra}


# --- refused calls -------------------------------------------------------------------

REFUSED: list[tuple[str, Call, str]] = [
    # depends_on
    ("depends_on string", Call(depends_on="a"), "depends_on must be a list of job names, "
     "got string"),
    ("depends_on dict", Call(depends_on={"a": 1}), "depends_on must be a list"),
    ("depends_on int item", Call(depends_on=["a", 2]), "got int"),
    ("depends_on bad name", Call(depends_on=["ok", "no way"]), "depends_on: job_name"),
    ("depends_on empty name", Call(depends_on=[""]), "depends_on: job_name must not be empty"),
    ("depends_on duplicate", Call(depends_on=["a", "b", "a"]), "depends_on lists 'a' twice"),
    # condition
    ("condition unknown", Call(condition="on_success"), "condition 'on_success' is not one of"),
    ("condition case", Call(condition="ALWAYS"), "condition 'ALWAYS' is not one of"),
    ("condition empty", Call(condition=""), "condition '' is not one of"),
    ("condition int", Call(condition=1), "condition 1 is not one of"),
    # env keys and values
    ("env not dict", Call(env=[("A", "b")]), "env must be a dict of strings, got list"),
    ("env key digit first", Call(env={"1A": "x"}), "env key '1A' is not a valid variable name"),
    ("env key dash", Call(env={"A-B": "x"}), "env key 'A-B' is not a valid variable name"),
    ("env key dot", Call(env={"A.B": "x"}), "is not a valid variable name"),
    ("env key empty", Call(env={"": "x"}), "env key '' is not a valid variable name"),
    ("env key space", Call(env={"A B": "x"}), "is not a valid variable name"),
    ("env key non-ascii", Call(env={"\u00c9T\u00c9": "x"}), "is not a valid variable name"),
    ("env key int", Call(env={1: "x"}), "env key must be a string, got int"),
    ("env reserved REACTORCIDE_", Call(env={"REACTORCIDE_JOB_ID": "x"}),
     "env key 'REACTORCIDE_JOB_ID' uses the reserved prefix 'REACTORCIDE_'"),
    ("env reserved REACTORCIDE_ short", Call(env={"REACTORCIDE_": "x"}),
     "uses the reserved prefix 'REACTORCIDE_'"),
    ("env reserved RC_WF_", Call(env={"RC_WF_ID": "x"}),
     "env key 'RC_WF_ID' uses the reserved prefix 'RC_WF_'"),
    ("env reserved RC_WF_VARS_JSON", Call(env={"RC_WF_VARS_JSON": "{}"}),
     "uses the reserved prefix 'RC_WF_'"),
    ("env value int", Call(env={"N": 3}), "env['N'] must be a string, got int"),
    ("env value bool", Call(env={"B": True}), "env['B'] must be a string, got bool"),
    ("env value None", Call(env={"X": None}), "env['X'] must be a string, got None"),
    ("env value list", Call(env={"L": ["a"]}), "env['L'] must be a string, got list"),
    ("env value float", Call(env={"F": 1.5}), "env['F'] must be a string, got float"),
    # priority / timeout
    ("priority True", Call(extra={"priority": True}), "priority must be an int, got bool"),
    ("priority False", Call(extra={"priority": False}), "priority must be an int, got bool"),
    ("priority float", Call(extra={"priority": 1.0}), "priority must be an int, got float"),
    ("priority string", Call(extra={"priority": "1"}), "priority must be an int, got string"),
    ("timeout zero", Call(extra={"timeout": 0}), "timeout must be greater than 0, got 0"),
    ("timeout negative", Call(extra={"timeout": -60}), "greater than 0, got -60"),
    ("timeout bool", Call(extra={"timeout": True}), "timeout must be an int (seconds), got bool"),
    ("timeout float", Call(extra={"timeout": 1.5}), "got float"),
    ("timeout string", Call(extra={"timeout": "60"}), "got string"),
    # source types
    ("source_type svn", Call(extra={"source_type": "svn"}), "source_type 'svn' is not one of"),
    ("source_type case", Call(extra={"source_type": "GIT"}), "source_type 'GIT' is not one of"),
    ("ci_source_type url", Call(extra={"ci_source_type": "https"}),
     "ci_source_type 'https' is not one of"),
    ("ci_source_type int", Call(extra={"ci_source_type": 1}), "ci_source_type 1 is not one of"),
    # string fields
    ("container_image int", Call(extra={"container_image": 3}),
     "container_image must be a string, got int"),
    ("source_url list", Call(extra={"source_url": ["x"]}), "source_url must be a string"),
    ("worker_class bool", Call(extra={"worker_class": False}), "worker_class must be a string"),
    # item_var is an environment variable name
    ("item_var bad", Call(extra={"item_var": "1X"}), "item_var '1X' is not a valid variable"),
    ("item_var reserved", Call(extra={"item_var": "RC_WF_ITEM"}),
     "item_var 'RC_WF_ITEM' uses the reserved prefix"),
    # maps
    ("characteristics list", Call(extra={"characteristics": ["a"]}),
     "characteristics must be a dict, got list"),
    ("resources unknown nested key", Call(extra={"resources": {"cpu": {"n": 1}}}),
     """resources["cpu"] key 'n' is not one of request, limit"""),
    ("resources flat", Call(extra={"resources": {"cpu": 2}}),
     """resources["cpu"] must be a dict"""),
    ("resources unknown group", Call(extra={"resources": {"gpu": {"limit": 1}}}),
     "resources key 'gpu' is not one of cpu, memory"),
    ("resources negative cpu", Call(extra={"resources": {"cpu": {"limit": -1}}}),
     "must not be negative"),
    ("resources cpu word", Call(extra={"resources": {"cpu": {"limit": "two"}}}),
     "is not a CPU quantity"),
    ("resources memory lower-case", Call(extra={"resources": {"memory": {"limit": "4gi"}}}),
     "is not a memory quantity"),
    ("resources memory 5B", Call(extra={"resources": {"memory": {"limit": "5B"}}}),
     "is not a memory quantity"),
    ("resources memory fraction", Call(extra={"resources": {"memory": {"limit": 1.5}}}),
     "is not a whole number of bytes"),
    ("characteristics float", Call(extra={"characteristics": {"x": 1.5}}),
     "must be a string or a bool, got float"),
    ("characteristics empty key", Call(extra={"characteristics": {"": "x"}}),
     "characteristics keys must not be empty"),
    ("image_pull_secrets upper", Call(extra={"image_pull_secrets": ["Reg"]}),
     "is not a valid secret name"),
    ("image_pull_secrets empty", Call(extra={"image_pull_secrets": [""]}),
     "must not be empty"),
    ("image_pull_secrets long", Call(extra={"image_pull_secrets": ["a" * 254]}),
     "the limit is 253"),
    ("image_pull_secrets twice", Call(extra={"image_pull_secrets": ["a", "a"]}),
     "lists 'a' twice"),
    ("job_file", Call(extra={"job_file": "jobs/a.yaml"}), "job_file is refused"),
    ("for_each million", Call(extra={"for_each": [1000000]}), "'1e+06'"),
    ("for_each float", Call(extra={"for_each": [2.0]}), "for_each item 2.0 is refused"),
    ("for_each None", Call(extra={"for_each": [None]}), "for_each item None is refused"),
    ("for_each dict", Call(extra={"for_each": [{"a": 1}]}), "for_each item dict is refused"),
    ("for_each not list", Call(extra={"for_each": "x"}), "for_each must be a list, got str"),
    ("characteristics int key", Call(extra={"characteristics": {1: "x", "1": "y"}}),
     "characteristics"),
    # unknown fields
    ("unknown field", Call(extra={"retries": 3}), "unknown field 'retries'"),
    ("unknown version", Call(extra={"version": "1"}), "unknown field 'version'"),
    ("unknown trigger_type", Call(extra={"trigger_type": "runnerlib_eval"}),
     "unknown field 'trigger_type'"),
]
REFUSED += [
    (f"{key} not list", Call(extra={key: "x"}), f"{key} must be a list of strings, got string")
    for key in ("capabilities", "image_pull_secrets")
]
REFUSED += [
    (f"{key} int item", Call(extra={key: ["x", 1]}), f"{key} must hold only strings, got int")
    for key in ("capabilities", "image_pull_secrets")
]
REFUSED += [
    (f"authority {key}", Call(extra={key: "x"}),
     f"field {key!r} is set by the platform and may not be set by a pipeline")
    for key in AUTHORITY_FIELDS
]
REFUSED += [
    (f"forbidden field {key}", Call(extra={key: "acme"}),
     f"field {key!r} is refused: the coordinator rejects the key {key!r}")
    for key in FORBIDDEN_KEYS
]
REFUSED += [
    (f"forbidden env key {key}", Call(env={key: "acme"}),
     f"env key {key!r} is refused")
    for key in FORBIDDEN_KEYS
]
REFUSED += [
    (f"forbidden {where} key {key}", Call(extra={where: {"ok": "1", key: "acme"}}),
     f"{where} key {key!r} is refused")
    for key in FORBIDDEN_KEYS
    for where in ("characteristics", "resources")
]


@pytest.mark.parametrize(("call", "needle"), [(c, n) for _, c, n in REFUSED],
                         ids=[i for i, _, _ in REFUSED])
def test_refused_calls_name_the_job_and_the_rule(call: Call, needle: str) -> None:
    message = _error_of(call)
    assert message.startswith(f'job "{call.name}": ')
    assert needle in message


INT64_RANGE = "is outside the 64-bit integer range the coordinator decodes"
# Refusals in their exact words: the whole message, the job's name first.
EXACT: list[tuple[str, Call, str]] = [
    ("name not allowed", Call(name="-lead"), "job_name '-lead' is not allowed: use letters, "
     "digits, '.', '_' and '-', starting with a letter or digit"),
    ("env key", Call(env={"1A": "x"}), "env key '1A' is not a valid variable name (letters, "
     "digits and '_', not starting with a digit)"),
    ("env value dict", Call(env={"D": {"a": 1}}), "env['D'] must be a string, got dict"),
    ("env value tuple", Call(env={"T": (1, 2)}), "env['T'] must be a string, got tuple"),
    ("condition", Call(condition="x"),
     "condition 'x' is not one of all_success, any_success, any_failed, always"),
    ("condition with one allowed", Call(condition="x", rules=JobRules(
        allowed_conditions=("always",))),
     "condition 'x' is not one of all_success, any_success, any_failed, always"),
    ("source_type", Call(extra={"source_type": "svn"}),
     "source_type 'svn' is not one of git, copy, none"),
    ("priority above int64", Call(extra={"priority": 2**63}), f"priority {INT64_RANGE}"),
    ("priority below int64", Call(extra={"priority": -(2**63) - 1}), f"priority {INT64_RANGE}"),
    ("timeout above int64", Call(extra={"timeout": 2**63}), f"timeout {INT64_RANGE}"),
    ("characteristics int key", Call(extra={"characteristics": {1: "x"}}),
     "characteristics keys must be strings, got int"),
    ("characteristics list value", Call(extra={"characteristics": {"x": [1]}}),
     "characteristics['x'] must be a string, number or bool, got list"),
    ("characteristics NaN", Call(extra={"characteristics": {"x": float("nan")}}),
     "characteristics['x'] must be a finite number, got nan"),
    ("characteristics huge int", Call(extra={"characteristics": {"x": 2**64}}),
     f"characteristics['x'] {INT64_RANGE}"),
    ("characteristics int", Call(extra={"characteristics": {"x": 1}}),
     "characteristics['x'] must be a string or a bool, got int (the coordinator refuses "
     'numbers here; write "1")'),
    # A suggestion only when it is close: "retries" is not a misspelt "resources".
    ("unknown field", Call(extra={"retries": 3}), "unknown field 'retries'"),
    ("unknown trigger_type", Call(extra={"trigger_type": "x"}), "unknown field 'trigger_type'"),
    ("unknown close field", Call(extra={"priorty": 3}),
     "unknown field 'priorty' (did you mean 'priority'?)"),
    ("every problem", Call(env={"N": 3}, extra={"priority": True}),
     "env['N'] must be a string, got int; priority must be an int, got bool"),
]


@pytest.mark.parametrize(("call", "message"), [(c, m) for _, c, m in EXACT],
                         ids=[i for i, _, _ in EXACT])
def test_refusals_in_their_exact_words(call: Call, message: str) -> None:
    prefix = "" if message.startswith("job_name") else f'job "{call.name}": '
    assert _error_of(call) == prefix + message


def test_no_allowed_condition_refuses_every_job_without_failing() -> None:
    message = _error_of(Call(condition="x", rules=JobRules(allowed_conditions=())))
    assert message.startswith('job "job": condition \'x\' is not one of all_success, ')
    assert "(jobs.allowed_conditions)" in message


def test_a_job_from_a_file_is_an_object_and_its_fields_default() -> None:
    with pytest.raises(JobError) as caught:
        normalize_document(["job_name", "a"])
    assert str(caught.value) == "a job must be an object, got list"
    assert normalize_document({"job_name": "a"}) == {
        "job_name": "a", "env": {}, "depends_on": [], "condition": "all_success"}


@pytest.mark.parametrize(
    "key", [k for k, kind in OPTIONAL_FIELDS.items() if kind != "map"]
)
def test_non_map_fields_refuse_a_dict(key: str) -> None:
    """Whatever the kind of a field that is not a map, a dict is refused."""
    message = _error_of(Call(extra={key: {"a": "b"}}))
    assert key in message


# --- graph: duplicates, unknown dependencies, cycles ---------------------------------


def _jobs(spec: list[tuple[str, list[str]]]) -> list[Job]:
    """Jobs from (name, depends_on) pairs, one per line of an imaginary pipeline."""
    return [
        Job(name, {"job_name": name, "depends_on": deps}, Location("p.star", line, 1))
        for line, (name, deps) in enumerate(spec, start=1)
    ]


GRAPHS: list[tuple[str, list[tuple[str, list[str]]], list[str], list[tuple[int, str]]]] = [
    ("empty", [], [], []),
    ("chain", [("a", []), ("b", ["a"]), ("c", ["b"])], [], []),
    ("diamond", [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])], [], []),
    ("forward reference", [("b", ["a"]), ("a", [])], [], []),
    ("depends on existing", [("new", ["old"])], ["old"], []),
    ("unknown dependency", [("a", []), ("b", ["a", "ghost"])], [],
     [(2, 'job "b" depends on "ghost", which no trigger creates')]),
    ("two unknown dependencies", [("a", ["x"]), ("b", ["y"])], ["z"],
     [(1, 'job "a" depends on "x", which no trigger creates'),
      (2, 'job "b" depends on "y", which no trigger creates')]),
    ("duplicate", [("a", []), ("b", []), ("a", [])], [],
     [(3, 'job "a" is triggered twice (first at p.star:1:1)')]),
    ("clash with existing", [("keep", []), ("old", [])], ["old"],
     [(2, 'job "old" is already in the triggers file')]),
    ("self dependency", [("a", ["a"])], [], [(1, "dependency cycle: a -> a")]),
    ("two-cycle", [("a", ["b"]), ("b", ["a"])], [], [(1, "dependency cycle: a -> b -> a")]),
    ("three-cycle", [("a", ["c"]), ("b", ["a"]), ("c", ["b"])], [],
     [(1, "dependency cycle: a -> c -> b -> a")]),
    ("three-cycle after a tail", [("t", []), ("x", ["t", "z"]), ("y", ["x"]), ("z", ["y"]),
                                  ("w", ["z"])], [],
     [(2, "dependency cycle: x -> z -> y -> x")]),
]


@pytest.mark.parametrize(("spec", "existing", "expected"),
                         [(s, e, x) for _, s, e, x in GRAPHS], ids=[g[0] for g in GRAPHS])
def test_graph_problems(spec: list[tuple[str, list[str]]], existing: list[str],
                        expected: list[tuple[int, str]]) -> None:
    found = graph_problems(_jobs(spec), existing)
    assert [(job.location.line, message) for job, message in found] == expected


CYCLES: list[tuple[str, list[tuple[str, list[str]]], list[set[str]]]] = [
    ("none", [("a", []), ("b", ["a"])], []),
    ("diamond", [("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"])], []),
    ("self", [("a", ["a"]), ("b", ["a"])], [{"a"}]),
    ("three", [("a", ["b"]), ("b", ["c"]), ("c", ["a"]), ("d", ["a"])], [{"a", "b", "c"}]),
    ("two disjoint", [("a", ["b"]), ("b", ["a"]), ("c", ["d"]), ("d", ["c"])],
     [{"a", "b"}, {"c", "d"}]),
    ("unknown deps ignored", [("a", ["ghost"]), ("b", ["a"])], []),
    ("long", [(f"n{i}", [f"n{(i + 1) % 20}"]) for i in range(20)],
     [{f"n{i}" for i in range(20)}]),
    ("below the first job", [("a", ["b"]), ("b", ["c"]), ("c", ["b"])], [{"b", "c"}]),
]


@pytest.mark.parametrize(("spec", "expected"), [(s, e) for _, s, e in CYCLES],
                         ids=[c[0] for c in CYCLES])
def test_find_cycles(spec: list[tuple[str, list[str]]], expected: list[set[str]]) -> None:
    cycles = find_cycles(_jobs(spec))
    assert [set(cycle) for cycle in cycles] == expected
    for cycle in cycles:
        assert len(cycle) == len(set(cycle))


def test_cycle_message_names_exactly_the_jobs_on_the_cycle() -> None:
    spec = [("lint", []), ("a", ["c", "lint"]), ("b", ["a"]), ("c", ["b"]),
            ("report", ["c"])]
    [(owner, message)] = graph_problems(_jobs(spec), [])
    named = set(message.removeprefix("dependency cycle: ").split(" -> "))
    assert named == {"a", "b", "c"}
    assert owner.name in named


# --- the same rules through the CLI, from chunked files ------------------------------


@dataclass(frozen=True)
class Chunk:
    """One pipeline of a chunked file and the first error it must stop at."""

    name: str
    source: str
    expected: str  # the first line on stderr


MARK = re.compile(r"  ### col (\d+): (.*)$")


def read_chunks(path: Path) -> list[Chunk]:
    """The chunks of `path`: each starts at a `--- NAME` line; the one line holding
    `### col N: MESSAGE` is where its first error must point."""
    chunks: list[Chunk] = []
    name: str | None = None
    lines: list[str] = []

    def close() -> None:
        if name is None:
            return
        marked = [(n, m) for n, line in enumerate(lines, 1) if (m := MARK.search(line))]
        assert len(marked) == 1, f"{path.name}: {name} needs one ### line, has {len(marked)}"
        [(line, match)] = marked
        expected = f"pipeline.star:{line}:{match[1]}: error: {match[2]}"
        chunks.append(Chunk(f"{path.stem}/{name}", "".join(f"{x}\n" for x in lines), expected))

    for text in path.read_text(encoding="utf-8").splitlines():
        if text.startswith("--- "):
            close()
            name, lines = text.removeprefix("--- ").strip(), []
        elif name is not None:
            lines.append(text)
    close()
    return chunks


CHUNKS = [chunk for path in sorted(CASES_DIR.glob("*.star")) for chunk in read_chunks(path)]


@pytest.mark.parametrize("chunk", CHUNKS, ids=[c.name for c in CHUNKS])
def test_cli_reports_the_first_error_at_its_location(chunk: Chunk, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "pipeline.star").write_text(chunk.source, encoding="utf-8")
    before = sorted(p.name for p in work.iterdir())

    result = run_cli("--pipeline", "pipeline.star", "--src", ".",
                     "--triggers-file", "triggers.json", cwd=work)

    assert result.code == 1, result.output
    assert result.stderr.splitlines()[0] == chunk.expected
    assert not (work / "triggers.json").exists()
    assert sorted(p.name for p in work.iterdir()) == before
    assert "Traceback (most recent call last)" not in result.stderr


def test_every_chunk_expects_an_error() -> None:
    assert len(CHUNKS) >= 32
    assert len({c.name for c in CHUNKS}) == len(CHUNKS)
    for chunk in CHUNKS:
        assert chunk.expected.startswith("pipeline.star:"), chunk.name
        assert ": error: " in chunk.expected, chunk.name
