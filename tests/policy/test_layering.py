"""Policy layering: whatever two files say, the layered policy is at least as strict as
each of them, in either order, for every kind of setting.

The table pins the cases a reader would think of first; the property covers the rest of
the space (any two files, each setting present or absent in each).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.builtin_table import DISABLABLE
from engine.core.diagnostics import UsageError
from engine.core.jobs import CONDITIONS
from engine.policy import (
    GIT_MISSING_HISTORY,
    MAXIMA,
    PIPELINE_SOURCES,
    SCHEMA,
    check_value,
    combine,
    default_policy,
    load_policy,
    policy_files,
    policy_from_json,
    policy_to_json,
    render_toml,
    tighten,
)
from tests.policy.test_policy import CONFIG_ERRORS
from tests.support.case_ids import case_id

Settings = dict[str, dict[str, Any]]


def _file(raw: dict[str, dict[str, Any]]) -> Settings:
    """Settings as a policy file would give them after its checks."""
    return {
        section: {key: check_value("p.toml", f"{section}.{key}", SCHEMA[section][key].kind, v)
                  for key, v in keys.items()}
        for section, keys in raw.items()
    }


def _layered(*files: Settings) -> dict[str, dict[str, Any]]:
    return combine([(f"file{i}.toml", f) for i, f in enumerate(files)]).values


# --- the ordering "at least as strict", one per kind of setting ----------------------------

def _globs_allow_no_more(layered: Any, one: Any) -> bool:
    # A value must match some pattern of every layer: more layers allow no more values.
    return set(one) <= set(layered)


AT_LEAST_AS_STRICT: dict[str, Callable[[Any, Any], bool]] = {
    "positive number": lambda layered, one: layered <= one,
    "positive integer": lambda layered, one: layered <= one,
    "non-negative integer": lambda layered, one: layered <= one,
    "callstack": lambda layered, one: layered <= one,
    "integer": lambda layered, one: layered <= one,
    "list of builtin names": lambda layered, one: set(one) <= set(layered),
    "list of strings": lambda layered, one: set(one) <= set(layered),
    "list of conditions": lambda layered, one: set(layered) <= set(one),
    "list of glob patterns": _globs_allow_no_more,
    "boolean": lambda layered, one: one or not layered,
    "one of: error, all_changed": lambda layered, one: (
        GIT_MISSING_HISTORY.index(layered) <= GIT_MISSING_HISTORY.index(one)),
    "one of: ci, code": lambda layered, one: (
        PIPELINE_SOURCES.index(layered) <= PIPELINE_SOURCES.index(one)),
}


def test_every_kind_of_setting_has_an_ordering() -> None:
    kinds = {key.kind for keys in SCHEMA.values() for key in keys.values()}
    assert kinds == set(AT_LEAST_AS_STRICT)


# --- table: one loosening attempt per kind, in both orders ---------------------------------

STRICT_THEN_LOOSE: list[tuple[str, str, Any, Any, Any]] = [
    # section, key, the operator's value, the project's looser value, the result
    ("load", "enabled", False, True, False),
    ("limits", "wall_seconds", 5, 60, 5.0),
    ("limits", "max_print_bytes", 0, 1024, 0),
    ("limits", "max_callstack", 50, 500, 50),
    ("jobs", "max_priority", -5, 100, -5),
    ("builtins", "disabled", ["is_job_running"], [], ("is_job_running",)),
    ("jobs", "reserved_env_prefixes", ["ORG_"], ["TEAM_"], ("ORG_", "TEAM_")),
    ("jobs", "allowed_conditions", ["always"], ["always", "any_failed"], ("always",)),
    ("jobs", "allowed_images", ["registry.example.com/*"], ["*"],
     (("registry.example.com/*",), ("*",))),
    ("git", "on_missing_history", "error", "all_changed", "error"),
    ("trust", "pipeline_source", "ci", "code", "ci"),
]


@pytest.mark.parametrize(("section", "key", "strict", "loose", "expected"), STRICT_THEN_LOOSE,
                         ids=[f"{s}.{k}" for s, k, *_ in STRICT_THEN_LOOSE])
def test_a_later_file_cannot_loosen_an_earlier_one(section: str, key: str, strict: Any,
                                                    loose: Any, expected: Any) -> None:
    operator = _file({section: {key: strict}})
    project = _file({section: {key: loose}})
    for order in ((operator, project), (project, operator)):
        value = _layered(*order)[section][key]
        if isinstance(expected, tuple):
            assert set(value) == set(expected)
        else:
            assert value == expected
            assert type(value) is type(expected)


def test_a_setting_no_file_names_keeps_its_default() -> None:
    values = _layered(_file({"limits": {"max_jobs": 5}}), _file({"load": {"max_files": 3}}))
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            if (section, key) not in (("limits", "max_jobs"), ("load", "max_files")):
                assert values[section][key] == spec.default, (section, key)
    assert values["limits"]["max_jobs"] == 5
    assert values["load"]["max_files"] == 3


# --- property: any two files ---------------------------------------------------------------

_NAMES = st.text(alphabet="ABCDEFGHIJ_", min_size=1, max_size=4)
_GLOBS = st.sampled_from(["*", "registry.example.com/*", "registry.example.com/team/*",
                          "ghcr.io/**", "x"])
RAW_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "positive number": st.floats(min_value=0.001, max_value=86400, allow_nan=False),
    "positive integer": st.integers(min_value=1, max_value=1_000_000),
    "non-negative integer": st.integers(min_value=0, max_value=1_000_000),
    "callstack": st.integers(min_value=1, max_value=1000),
    "integer": st.integers(min_value=-1000, max_value=1000),
    "list of builtin names": st.lists(st.sampled_from(DISABLABLE),
                                      max_size=4),
    "list of strings": st.lists(_NAMES, max_size=4),
    "list of conditions": st.lists(st.sampled_from(CONDITIONS), max_size=4),
    "list of glob patterns": st.lists(_GLOBS, max_size=3),
    "boolean": st.booleans(),
    "one of: error, all_changed": st.sampled_from(GIT_MISSING_HISTORY),
    "one of: ci, code": st.sampled_from(PIPELINE_SOURCES),
}


def _raw_value(section: str, key: str) -> st.SearchStrategy[Any]:
    strategy = RAW_VALUES[SCHEMA[section][key].kind]
    ceiling = MAXIMA.get(f"{section}.{key}")
    return strategy if ceiling is None else strategy.filter(lambda v: v <= ceiling)


_POLICY_FILES = st.fixed_dictionaries(
    {},
    optional={
        section: st.fixed_dictionaries({}, optional={key: _raw_value(section, key)
                                                     for key in keys})
        for section, keys in SCHEMA.items()
    },
).map(_file)


@settings(max_examples=150, deadline=None)
@given(first=_POLICY_FILES, second=_POLICY_FILES)
def test_layered_policy_is_at_least_as_strict_as_each_file(first: Settings,
                                                           second: Settings) -> None:
    for order in ((first, second), (second, first)):
        layered = _layered(*order)
        for section, keys in SCHEMA.items():
            for key, spec in keys.items():
                kind, default = spec.kind, spec.default
                value = layered[section][key]
                set_by = [f[section][key] for f in (first, second) if key in f.get(section, {})]
                if not set_by:  # a key no file sets keeps its built-in default
                    assert value == default, (section, key)
                for alone in set_by:
                    assert AT_LEAST_AS_STRICT[kind](value, alone), (section, key, value, alone)


@settings(max_examples=100, deadline=None)
@given(first=_POLICY_FILES, second=_POLICY_FILES)
def test_the_order_of_files_does_not_change_what_is_allowed(first: Settings,
                                                            second: Settings) -> None:
    one, other = _layered(first, second), _layered(second, first)
    for section, keys in SCHEMA.items():
        for key, spec in keys.items():
            a, b = one[section][key], other[section][key]
            if spec.kind.startswith("list"):
                assert set(a) == set(b), (section, key)
            else:
                assert a == b, (section, key)


# --- files as written: every mistake refused in-process, and `policy show` read back --------


@pytest.mark.parametrize("text, needle", CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_a_mistake_in_a_file_is_refused_naming_the_file(tmp_path: Path, text: str,
                                                        needle: str) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    with pytest.raises(UsageError) as caught:
        load_policy([str(path)])
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.location.file == str(path)
    assert needle in diagnostic.message


def test_a_file_that_cannot_be_read_is_refused(tmp_path: Path) -> None:
    for path, needle in ((tmp_path / "nope.toml", "policy file not found"),
                         (tmp_path, f"policy file {tmp_path} is not a regular file")):
        with pytest.raises(UsageError) as caught:
            load_policy([str(path)])
        assert caught.value.diagnostics[0].message == needle


def _written(tmp_path: Path, raw: dict[str, dict[str, Any]], name: str) -> str:
    lines = []
    for section, keys in raw.items():
        lines.append(f"[{section}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in keys.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


_RAW_FILES = st.fixed_dictionaries(
    {},
    optional={
        section: st.fixed_dictionaries({}, optional={key: _raw_value(section, key)
                                                     for key in keys})
        for section, keys in SCHEMA.items()
    },
)


@settings(max_examples=60, deadline=None)
@given(first=_RAW_FILES, second=_RAW_FILES)
def test_the_effective_policy_shown_reads_back_as_the_same_policy(
    tmp_path_factory: pytest.TempPathFactory, first: dict[str, dict[str, Any]],
    second: dict[str, dict[str, Any]],
) -> None:
    tmp_path = tmp_path_factory.mktemp("policy")
    files = [_written(tmp_path, first, "org.toml"), _written(tmp_path, second, "team.toml")]
    layered = load_policy(files)
    assert layered.values == combine([(f, _file(raw)) for f, raw in
                                      zip(files, (first, second), strict=True)]).values

    shown = render_toml(layered)
    assert shown.startswith("# effective pipeline policy\n# layered from: "
                            f"{files[0]}, {files[1]}\n")
    again = tmp_path / "shown.toml"
    again.write_text(shown, encoding="utf-8")
    assert load_policy([str(again)]).values == layered.values
    assert policy_from_json(json.loads(json.dumps(policy_to_json(layered))), "t").values == \
        layered.values


def test_the_defaults_are_shown_as_such() -> None:
    shown = render_toml(combine([]))
    assert shown.startswith("# effective pipeline policy\n"
                            "# built-in defaults (no policy file given)\n\n[limits]\n")
    assert "\nwall_seconds = 10.0\n" in shown
    assert '\nallowed_conditions = ["all_success", "any_success", "any_failed", "always"]\n' \
        in shown
    assert "\nenabled = true\n" in shown
    assert "\nallowed_images = []\n" in shown
    one = render_toml(combine([("a", _file({"jobs": {"allowed_images": ["r/*"]}}))]))
    assert "\nallowed_images = [\"r/*\"]\n" in one
    assert "a value must match" not in one
    two = render_toml(combine([("a", _file({"jobs": {"allowed_images": ["r/*"]}})),
                               ("b", _file({"jobs": {"allowed_images": ["*/team/*"]}}))]))
    assert ("\n# allowed_images: a value must match a pattern of every list\n"
            'allowed_images = [["r/*"], ["*/team/*"]]\n') in two


# --- every boundary and every refusal, with its exact words ---------------------------------

KNOWN = ", ".join(f"[{section}]" for section in SCHEMA)
FILE_RULES: list[tuple[str, str | None]] = [
    # a policy file, and the exact error (None: accepted)
    ("[limits]\nwall_seconds = 86400\n", None),
    ("[limits]\nwall_seconds = 86400.5\n",
     "limits.wall_seconds may be at most 86400, got 86400.5"),
    ("[limits]\nwall_seconds = 0\n",
     "limits.wall_seconds must be a positive number, got the integer 0"),
    ("[limits]\nwall_seconds = 0.001\n", None),
    ("[limits]\nmax_jobs = 0\n", "limits.max_jobs must be a positive integer, got the integer 0"),
    ("[limits]\nmax_jobs = 1\n", None),
    ("[limits]\nmax_print_bytes = 0\n", None),
    ("[limits]\nmax_print_bytes = -1\n",
     "limits.max_print_bytes must be a non-negative integer, got the integer -1"),
    ("[limits]\nmax_print_bytes = 1.5\n",
     "limits.max_print_bytes must be a non-negative integer, got the number 1.5"),
    ("[limits]\nmax_callstack = 1000\n", None),
    ("[limits]\nmax_callstack = 1001\n", "limits.max_callstack may be at most 1000, got 1001"),
    ("[limits]\nmemory_mb = 1048576\n", None),
    ("[load]\nmax_files = 100000\n", None),
    ("[load]\nmax_files = 100001\n", "load.max_files may be at most 100000, got 100001"),
    ("[jobs]\nmax_priority = -3\n", None),
    ("[load]\nenabled = 1\n", "load.enabled must be a boolean, got the integer 1"),
    ('[builtins]\ndisabled = ["ctx"]\n',
     "builtins.disabled: ctx cannot be disabled; disable the functions it carries instead"),
    ('[jobs]\nallowed_conditions = ["sometimes"]\n',
     "jobs.allowed_conditions: 'sometimes' is not a condition "
     "(all_success, any_success, any_failed, always)"),
    ("[jobs]\nallowed_images = [1]\n",
     "jobs.allowed_images must be a list of glob patterns, got a list with a non-string item"),
    ("[jobs]\nallowed_images = true\n",
     "jobs.allowed_images must be a list of glob patterns, got the boolean true"),
    ("[jobs]\nallowed_images = {a = 1}\n",
     "jobs.allowed_images must be a list of glob patterns, got a table"),
    ('[jobs]\nallowed_images = "x"\n',
     "jobs.allowed_images must be a list of glob patterns, got the string 'x'"),
    ("[jobs]\nallowed_images = []\n", None),
    ("[limits]\nmax_jobs = []\n", "limits.max_jobs must be a positive integer, got a list"),
    ("[zzzz]\nx = 1\n", f"unknown section [zzzz] (known: {KNOWN})"),
    ("[limit]\nx = 1\n", "unknown section [limit] (did you mean 'limits'?)"),
    ("nonsense = 1\n", "nonsense is set outside any section; settings belong in a section: "
     f"one of {KNOWN}"),
    ("limits = 3\n", "[limits] must be a table"),
    ("[limits]\nqqqqqq = 1\n", "unknown key limits.qqqqqq ([limits] has: wall_seconds, "
     "cpu_seconds, memory_mb, max_callstack, max_jobs, max_output_bytes, max_print_bytes)"),
    ("[limits]\nwall_second = 1\n",
     "unknown key limits.wall_second (did you mean 'wall_seconds'?)"),
    ("[jobs]\nmax_priority = 1.5\n", "jobs.max_priority must be an integer, got the number 1.5"),
    ('[git]\non_missing_history = "x"\n',
     "git.on_missing_history must be one of: error, all_changed, got the string 'x'"),
    ("[limits]\nmax_jobs = 1979-05-27\n",
     "limits.max_jobs must be a positive integer, got date datetime.date(1979, 5, 27)"),
    ('[jobs]\nreserved_env_prefixes = [["A_"]]\n',
     "jobs.reserved_env_prefixes must be a list of strings, got a list with a non-string item"),
    ('[jobs]\nallowed_images = [["r/*"], [], ["*/team/*"]]\n', None),
    ("fork_pr = 1\n", "[fork_pr] must be a table"),
    ("[fork_pr]\nload = {enabled = false}\n",
     "fork_pr.load is not one of [fork_pr.limits], [fork_pr.builtins], [fork_pr.jobs]"),
    ("[fork_pr]\nlimits = 3\n", "[fork_pr.limits] must be a table"),
    ("[fork_pr.limits]\nwall_second = 1\n",
     "unknown key fork_pr.limits.wall_second (did you mean 'wall_seconds'?)"),
    ("[fork_pr.jobs]\nzzz = 1\n", "unknown key fork_pr.jobs.zzz"),
    ("[fork_pr.limits]\nmax_jobs = 0\n",
     "limits.max_jobs must be a positive integer, got the integer 0"),
    ("[fork_pr.limits]\nmax_jobs = 5\n", None),
]


@pytest.mark.parametrize(("text", "message"), FILE_RULES, ids=[case_id(t) for t, _ in FILE_RULES])
def test_each_rule_of_a_policy_file(tmp_path: Path, text: str, message: str | None) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    if message is None:
        load_policy([str(path)])
        return
    with pytest.raises(UsageError) as caught:
        load_policy([str(path)])
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.location.file, diagnostic.message) == (str(path), message)


def test_files_that_cannot_be_read_name_themselves(tmp_path: Path) -> None:
    latin = tmp_path / "latin.toml"
    latin.write_bytes(b"[limits]\n# \xff\n")
    (tmp_path / "file").write_text("x", encoding="utf-8")
    for path, message in ((tmp_path / "nope.toml", "policy file not found"),
                          (tmp_path, f"policy file {tmp_path} is not a regular file"),
                          (latin, "policy file is not UTF-8 text"),
                          (tmp_path / "file" / "p.toml",
                           "cannot read the policy file: Not a directory")):
        with pytest.raises(UsageError) as caught:
            load_policy([str(path)])
        (diagnostic,) = caught.value.diagnostics
        assert (diagnostic.location.file, diagnostic.message) == (str(path), message)


RECORDED_RULES: list[tuple[Any, str]] = [
    ([], 'the recorded policy is not an object with "values"'),
    ({"values": []}, 'the recorded policy is not an object with "values"'),
    ({"values": {"nope": {}}}, "the recorded policy has an unknown section [nope]"),
    ({"values": {"limits": []}}, "the recorded policy has an unknown section [limits]"),
    ({"values": {"limits": {"wall_secondz": 1}}},
     "the recorded policy has an unknown key limits.wall_secondz"),
    ({"values": {"limits": {"wall_seconds": "x"}}},
     "limits.wall_seconds must be a positive number, got the string 'x'"),
    ({"values": {"jobs": {"allowed_images": "x"}}},
     "jobs.allowed_images must be a list of lists of glob patterns"),
    ({"values": {"jobs": {"allowed_images": [[1]]}}},
     "jobs.allowed_images must be a list of glob patterns, got a list with a non-string item"),
]


@pytest.mark.parametrize(("data", "message"), RECORDED_RULES,
                         ids=[json.dumps(d) for d, _ in RECORDED_RULES])
def test_a_recorded_policy_is_checked_like_a_file(data: Any, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        policy_from_json(data, "run.json")
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.location.file, diagnostic.message) == ("run.json", message)


def test_a_recorded_policy_keeps_defaults_layers_and_files() -> None:
    recorded = policy_from_json({"values": {"jobs": {"allowed_images": [["a*"], ["b*"]]},
                                            "limits": {}},
                                 "files": ["org.toml", "team.toml"]}, "run.json")
    assert recorded.files == ("org.toml", "team.toml")
    assert recorded.values["jobs"]["allowed_images"] == (("a*",), ("b*",))
    assert recorded.values == {**combine([]).values,
                               "jobs": {**combine([]).values["jobs"],
                                        "allowed_images": (("a*",), ("b*",))}}
    assert policy_from_json({"values": {}, "files": "x"}, "run.json").files == ()
    assert policy_to_json(recorded)["files"] == ["org.toml", "team.toml"]
    assert policy_to_json(recorded)["values"]["jobs"]["allowed_images"] == [["a*"], ["b*"]]


def test_policy_files_come_from_the_environment_then_the_command_line() -> None:
    environ = {"REACTORCIDE_PIPELINE_POLICY": "org.toml:team.toml"}
    assert policy_files(["cli.toml"], environ) == ["org.toml", "team.toml", "cli.toml"]
    assert policy_files([], {}) == []
    assert policy_files(["cli.toml"], {"REACTORCIDE_PIPELINE_POLICY": ""}) == ["cli.toml"]
    with pytest.raises(UsageError) as caught:  # an empty entry would silently apply nothing
        policy_files([], {"REACTORCIDE_PIPELINE_POLICY": "org.toml::"})
    (diagnostic,) = caught.value.diagnostics
    assert (diagnostic.location.file, diagnostic.message) == (
        "REACTORCIDE_PIPELINE_POLICY", "REACTORCIDE_PIPELINE_POLICY has an empty entry "
        "('org.toml::'); name each policy file, separated by ':'")


def test_files_read_later_layer_over_a_policy_already_read(tmp_path: Path) -> None:
    org = _written(tmp_path, {"limits": {"max_jobs": 10}, "load": {"enabled": False}}, "o.toml")
    team = _written(tmp_path, {"limits": {"max_jobs": 50}, "load": {"max_files": 3}}, "t.toml")

    layered = load_policy([team], over=load_policy([org]))

    assert layered == load_policy([org, team])
    assert (layered.limits.max_jobs, layered.load.enabled, layered.load.max_files) == (
        10, False, 3)
    assert layered.files == (org, team)


def test_a_fork_gets_every_files_fork_pr_table_layered_on_top(tmp_path: Path) -> None:
    org = tmp_path / "org.toml"
    org.write_text("[limits]\nmax_jobs = 100\nwall_seconds = 60\n"
                   "[fork_pr.limits]\nmax_jobs = 5\nwall_seconds = 600\n", encoding="utf-8")
    team = tmp_path / "team.toml"
    team.write_text('[jobs]\nmax_priority = 50\n[fork_pr.jobs]\nmax_priority = 1\n'
                    '[fork_pr.builtins]\ndisabled = ["print"]\n', encoding="utf-8")
    policy = load_policy([str(org), str(team)])

    fork = policy.for_fork()

    assert (policy.limits.max_jobs, policy.jobs.max_priority, policy.builtins.disabled) == (
        100, 50, ())
    assert fork.limits.max_jobs == 5
    assert fork.limits.wall_seconds == 60.0  # a fork's table tightens, never loosens
    assert (fork.jobs.max_priority, fork.builtins.disabled) == (1, ("print",))
    assert fork.files == (str(org), str(team), f"{org} [fork_pr]", f"{team} [fork_pr]")


def test_given_limits_replace_the_files_and_a_fork_still_tightens_them(tmp_path: Path
                                                                       ) -> None:
    from engine.core.limits import Limits

    org = tmp_path / "org.toml"
    org.write_text("[limits]\nmax_jobs = 100\nwall_seconds = 60\n"
                   "[fork_pr.limits]\nmax_jobs = 5\n", encoding="utf-8")
    given = Limits(max_jobs=50, wall_seconds=120, cpu_seconds=120)

    replaced = load_policy([str(org)]).with_limits(given)
    fork = replaced.for_fork()

    assert (replaced.limits.max_jobs, replaced.limits.wall_seconds) == (50, 120.0)
    assert (fork.limits.max_jobs, fork.limits.wall_seconds, fork.limits.cpu_seconds) == (
        5, 120.0, 120)
    # what the fork's policy says it was layered from (`policy show`, a transcript)
    assert fork.files == (str(org), f"{org} [fork_pr]")  # given limits are not a file
    # the layers each value came from, the given limits named as such
    assert [name for name, _ in replaced.layers] == [str(org), "RunOptions.limits"]
    assert [name for name, _ in fork.layers] == [str(org), "RunOptions.limits",
                                                 f"{org} [fork_pr]"]


def test_a_policy_without_fork_tables_is_its_own_fork_policy(tmp_path: Path) -> None:
    plain = load_policy([_written(tmp_path, {"limits": {"max_jobs": 7}}, "p.toml")])
    assert plain.for_fork() is plain
    assert default_policy().for_fork() is not None
    assert default_policy().for_fork().values == default_policy().values


def test_a_recorded_policy_tightens_the_operators_and_never_loosens_it(tmp_path: Path) -> None:
    operator = load_policy([_written(tmp_path, {"limits": {"max_jobs": 10, "wall_seconds": 5},
                                                "load": {"enabled": False}}, "op.toml")])
    recorded = combine([("run.json", _file({"limits": {"max_jobs": 50, "wall_seconds": 2},
                                            "load": {"enabled": True, "max_files": 4}}))])

    layered = tighten(operator, recorded)

    assert (layered.limits.max_jobs, layered.limits.wall_seconds) == (10, 2.0)
    assert (layered.load.enabled, layered.load.max_files) == (False, 4)
    assert layered.files == operator.files
    assert tighten(operator, default_policy()).values == operator.values


def test_several_layers_of_patterns_read_back_from_what_is_shown(tmp_path: Path) -> None:
    two = combine([("a", _file({"jobs": {"allowed_images": ["r/*"],
                                         "allowed_source_urls": ["https://git/*"]}})),
                   ("b", _file({"jobs": {"allowed_images": ["*/team/*"],
                                         "max_timeout": 60}}))])
    shown = tmp_path / "shown.toml"
    shown.write_text(render_toml(two), encoding="utf-8")
    assert load_policy([str(shown)]).values == two.values


def test_the_stricter_choice_when_both_files_say_the_same() -> None:
    same = _file({"git": {"on_missing_history": "all_changed"}})
    assert _layered(same, same)["git"]["on_missing_history"] == "all_changed"
    assert default_policy().values == combine([]).values
