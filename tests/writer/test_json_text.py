"""The indented renderer writes exactly what `json.dumps(indent=2, ensure_ascii=False)` does."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from engine.common.json_text import dumps_indented


class Text(str):
    """A str subclass: rendered by json.dumps itself."""


CASES: list[Any] = [
    {},
    [],
    {"a": {}, "b": [], "c": [[]], "d": [{}]},
    {"type": "trigger_job", "operation_id": "x", "jobs": [
        {"job_name": "a", "env": {"K": "v"}, "depends_on": [], "condition": "all_success",
         "priority": 5, "timeout": 1800, "resources": {"cpu": 1.5, "gpu": True, "m": "1G"}},
    ]},
    {"unicode": "é ü 漢字 \U0001f600", "controls": "\x00\x1f\t\n\"\\/", "\u2028": "\u2029"},
    [None, True, False, 0, -1, 2**63 - 1, -(2**63), 10**40, 0.1, -0.0, 1e300, 1e-300, 3.0],
    {"nested": {"deeper": {"deepest": [1, [2, [3, {"x": None}]]]}}},
    {"tuple": (1, 2)},  # a tuple is written as a list
    {"sub": Text("s"), Text("k"): 1},
    {1: "int key", None: "none key", False: "bool key", 2.5: "float key"},
    "just a string",
    17,
    None,
]


@pytest.mark.parametrize("value", CASES)
def test_same_text_as_json_dumps(value: Any) -> None:
    assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False,
                                               allow_nan=False)


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_numbers_refused_like_json_dumps(number: float) -> None:
    with pytest.raises(ValueError):
        dumps_indented({"jobs": [{"x": number}]})


def _random_value(rng: random.Random, depth: int) -> Any:
    pick = rng.randrange(9 if depth < 4 else 6)
    if pick == 0:
        return rng.choice([None, True, False])
    if pick == 1:
        return rng.randint(-(10**20), 10**20)
    if pick == 2:
        return rng.uniform(-1e6, 1e6)
    if pick in (3, 4, 5):
        return "".join(chr(rng.choice([rng.randrange(0, 128), rng.randrange(128, 0x3000)]))
                       for _ in range(rng.randrange(6)))
    if pick in (6, 7):
        return {_random_value(rng, 9) if rng.random() < 0.05 else f"k{i}\u00e9":
                _random_value(rng, depth + 1) for i in range(rng.randrange(4))}
    return [_random_value(rng, depth + 1) for _ in range(rng.randrange(4))]


def test_random_documents_render_identically() -> None:
    rng = random.Random(15)
    for _ in range(500):
        value = _random_value(rng, 0)
        try:
            expected = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError):
            continue
        assert dumps_indented(value) == expected


def test_end_follows_the_text() -> None:
    assert dumps_indented({"a": [1]}, end="\n") == '{\n  "a": [\n    1\n  ]\n}\n'
    assert dumps_indented({"a": (1,)}, end="\n") == '{\n  "a": [\n    1\n  ]\n}\n'
