"""The operation id names one decision: it changes when any input changes, and only then.

The coordinator drops a submission whose operation id it has seen, so two different
documents sharing an id lose jobs, and one document under two ids runs them twice.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.diagnostics import Location
from engine.core.jobs import Job
from engine.triggers.document import compose, write_jobs
from engine.triggers.file import Existing, parse_existing
from engine.triggers.operation_id import derive

UUID8 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z")
WHERE = Location("pipeline.star")


def _job(name: str, **fields: Any) -> Job:
    doc = {"job_name": name, "depends_on": [], "condition": "all_success", "env": {}, **fields}
    return Job(name, doc, WHERE)


def _compose(jobs: list[Job], existing: Existing | None, **inputs: Any) -> str | None:
    kwargs = {"job_id": "job-1", "commit": "a" * 40, **inputs}
    return compose(jobs, existing, max_output_bytes=1 << 20, where=WHERE, **kwargs).operation_id


def test_the_same_new_job_appended_to_two_different_files_gets_two_ids() -> None:
    new = [_job("deploy")]
    one = Existing("11111111-1111-8111-8111-111111111111", [_job("a").to_document()])
    other = Existing("22222222-2222-8222-8222-222222222222", [_job("a").to_document()])

    first, second = _compose(new, one), _compose(new, other)

    assert first is not None and second is not None
    assert first != second


def test_appending_gives_an_id_unlike_the_files_and_unlike_a_fresh_write() -> None:
    new = [_job("deploy")]
    previous = Existing("11111111-1111-8111-8111-111111111111", [])
    no_id = Existing(None, [])

    appended, fresh, to_unnamed = (_compose(new, previous), _compose(new, None),
                                   _compose(new, no_id))

    assert len({appended, fresh, to_unnamed, previous.operation_id}) == 4


def test_the_id_written_to_a_file_follows_its_previous_id(tmp_path: Path) -> None:
    ids = []
    for previous in ("first-previous-id", "second-previous-id"):
        path = tmp_path / f"{previous}.json"
        path.write_text(json.dumps({"type": "trigger_job", "operation_id": previous,
                                    "jobs": []}), encoding="utf-8")
        write_jobs(str(path), [_job("deploy")], job_id="job-1", commit="c" * 40,
                   max_output_bytes=1 << 20, where=WHERE)
        written = parse_existing(path.read_bytes(), str(path))
        assert written.names == ["deploy"]
        ids.append(written.operation_id)
    assert ids[0] != ids[1]


# --- property: every input counts, nothing else does ------------------------------------

_TEXT = st.text(alphabet="abcXYZ-_.0123 é", min_size=0, max_size=8)
_JOB = st.fixed_dictionaries(
    {"job_name": st.text(alphabet="abc-1", min_size=1, max_size=5),
     "depends_on": st.lists(st.text(alphabet="abc", min_size=1, max_size=3), max_size=2),
     "condition": st.sampled_from(["all_success", "always"]),
     "env": st.dictionaries(st.sampled_from(["A", "B"]), _TEXT, max_size=2)},
    optional={"priority": st.integers(-5, 5), "timeout": st.integers(1, 9)},
)
_INPUTS = st.fixed_dictionaries({
    "job_id": st.none() | _TEXT,
    "commit": st.none() | _TEXT,
    "jobs": st.lists(_JOB, max_size=3),
    "previous": st.none() | _TEXT,
})


@st.composite
def _changed(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs, and the same inputs with exactly one of them different."""
    base = draw(_INPUTS)
    key = draw(st.sampled_from(sorted(base)))
    other = draw(_INPUTS.map(lambda d: d[key]).filter(lambda v: v != base[key]))
    return base, {**base, key: other}


@settings(max_examples=200, deadline=None)
@given(_INPUTS)
def test_the_same_inputs_give_the_same_uuid_shaped_id(inputs: dict[str, Any]) -> None:
    again = json.loads(json.dumps(inputs))  # equal, but other objects
    first = derive(**inputs)
    assert UUID8.match(first), first
    assert derive(**again) == first


@settings(max_examples=150, deadline=None)
@given(_changed())
def test_changing_any_one_input_changes_the_id(pair: tuple[dict[str, Any], dict[str, Any]]
                                               ) -> None:
    base, changed = pair
    assert derive(**base) != derive(**changed)


@settings(max_examples=100, deadline=None)
@given(_INPUTS)
def test_none_and_empty_are_different_inputs(inputs: dict[str, Any]) -> None:
    for key in ("job_id", "commit", "previous"):
        if inputs[key] is None:
            assert derive(**inputs) != derive(**{**inputs, key: ""}), key


# --- the canonical form is fixed ----------------------------------------------------------

BUILD: dict[str, Any] = {"job_name": "build", "depends_on": [], "condition": "all_success",
         "env": {"B": "ü", "A": "1"}}
TEST: dict[str, Any] = {"job_name": "test", "depends_on": ["build"], "condition": "always",
                        "env": {}, "timeout": 60}
KNOWN_IDS: list[tuple[dict[str, Any], str]] = [
    # A Python script and a pipeline.star, or two engine versions, deciding the same jobs
    # must send the same key: the derivation (canonical JSON, SHA-256, version 8) is fixed.
    ({"job_id": "job-1", "commit": "a" * 40, "jobs": [BUILD], "previous": None},
     "14b53322-b6e3-828c-a30c-b24bdce4d404"),
    ({"job_id": None, "commit": None, "jobs": [], "previous": "before"},
     "dcc0cd4e-095d-816b-92e2-1482fb50ee3b"),
    ({"job_id": "job-2", "commit": "b" * 40, "jobs": [BUILD, TEST],
      "previous": "11111111-1111-8111-8111-111111111111"},
     "6c79a095-ecd7-8fb0-8482-1077ea860a61"),
]


def test_known_inputs_give_known_ids() -> None:
    for inputs, expected in KNOWN_IDS:
        assert derive(**inputs) == expected


def test_the_order_of_keys_in_a_map_does_not_count() -> None:
    reordered = {**BUILD, "env": {"A": "1", "B": "ü"}}
    inputs = KNOWN_IDS[0][0]
    assert derive(**{**inputs, "jobs": [reordered]}) == KNOWN_IDS[0][1]


def _reference_id(inputs: dict[str, Any]) -> str:
    """The documented derivation in one piece: SHA-256 of the whole canonical text, its
    first 16 bytes marked as a version 8 UUID."""
    import hashlib

    text = json.dumps(inputs, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = bytearray(hashlib.sha256(text.encode("utf-8")).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x80
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def test_many_jobs_hash_as_the_whole_canonical_text_does() -> None:
    # The jobs are hashed in slices: around and across a slice's edge, the id is the one
    # the whole text gives.
    for count in (0, 1, 2, 255, 256, 257, 511, 512, 513, 700):
        jobs = [{**TEST, "job_name": f"t{index}", "env": {"I": str(index), "é": "x"}}
                for index in range(count)]
        inputs: dict[str, Any] = {"job_id": "job-3", "commit": "c" * 40, "jobs": jobs,
                                  "previous": "p"}
        assert derive(**inputs) == _reference_id(inputs), count


def test_an_id_derived_as_the_jobs_arrived_is_used_only_for_exactly_those_jobs() -> None:
    from engine.triggers.operation_id import Derivation

    jobs = [_job("build"), _job("test", depends_on=["build"])]
    fresh = _compose(jobs, None)

    def derivation(tagged: list[Job], documents: list[dict[str, Any]],
                   commit: str = "a" * 40) -> Derivation:
        made = Derivation(job_id="job-1", commit=commit)
        for job, document in zip(tagged, documents, strict=True):
            made.add(document, job)
        return made

    right = derivation(jobs, [job.to_document() for job in jobs])
    assert _compose(jobs, None, derivation=right) == fresh
    # Made from other documents but for these very jobs: it is what is used.
    other = derivation(jobs, [{"job_name": "x"}, {"job_name": "y"}])
    assert _compose(jobs, None, derivation=other) == other.finish(None) != fresh
    # For fewer jobs, other job objects, or another commit: derived afresh.
    for unrelated in (derivation(jobs[:1], [{"job_name": "x"}]),
                      derivation([_job("build"), _job("test")], [{}, {}]),
                      derivation(jobs, [{}, {}], commit="b" * 40)):
        assert _compose(jobs, None, derivation=unrelated) == fresh
