"""The builtins a pipeline sees: the one table every list of them is derived from.

A row says, for one builtin: the capability calls it makes (what the sandbox's parent
answers for it, and refuses when only disabled builtins make them), what it reaches (as
the operator's review shows it), its `ctx` field, where it is implemented (in the
Starlark prelude over a private Python callable, or in Python), and what the parent
starts in the background when a pipeline names it.

Adding a builtin: a row here, its implementation in builtins/pipeline_builtins/, the
method on every backend of the capability it asks (when it asks one), and a test.
tests/docs/test_builtin_table.py fails while these disagree.
"""

from __future__ import annotations

from engine.common.record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# The capabilities the sandbox asks its parent about (engine.capabilities.base).
GIT = "git"
JOB_STATE = "job_state"
SOURCE = "source"

# The call `load()` makes: a statement, not a builtin, so it is no row of the table.
LOAD_CALL = (SOURCE, "read")

# What a builtin reaches, and how `check --capabilities` words it for a reviewer.
REACHES = {
    "git": "git (read-only)",
    "coordinator": "coordinator (reads jobs)",
    "triggers file": "the triggers file",
    "workflow output": "the workflow output file",
    "log": "the log",
    "context": "the run's context, and the functions it carries",
}

# What the parent starts in the background once the sandbox is forked, when a
# pipeline names a builtin that will need it.
GIT_VERSION = "git version"  # ask which git is installed (engine.capabilities.git.runner)
HTTP_CLIENT = "requests"  # import the HTTP client of the coordinator
PRELOADS = (GIT_VERSION, HTTP_CLIENT)

# Where a builtin is implemented, under builtins/pipeline_builtins/.
PRELUDE = "prelude.star"

# The `ctx` data fields in the prelude's order, with what each holds.
CONTEXT_FIELDS = (
    ("job_id", "string"),
    ("event", "string"),
    ("branch", "string"),
    ("tag", "string"),
    ("commit", "string"),
    ("ref", "string"),
    ("pr", "struct"),
    ("repo", "string"),
    ("provider", "string"),
    ("source_url", "string"),
    ("workflow_id", "string"),
    ("vars", "dict"),
)


class Builtin(Record):
    """One row: a builtin and every fact the engine keeps about it."""

    __slots__ = ("calls", "ctx_field", "name", "over", "preload", "reaches", "source",
                 "value")

    def __init__(self, name: str, *, reaches: str, source: str,
                 calls: tuple[tuple[str, str], ...] = (), over: str | None = None,
                 in_ctx: bool = True, preload: str | None = None,
                 value: bool = False) -> None:
        self.name = name
        self.calls = calls  # (capability, method) asked of the parent
        self.reaches = reaches  # a key of REACHES
        self.source = source  # the file under builtins/pipeline_builtins/ defining it
        self.over = over  # the private callable a prelude builtin calls into
        self.ctx_field = name if in_ctx else None
        self.preload = preload  # one of PRELOADS
        self.value = value  # a value, not a function: it cannot be disabled


_GIT_CHANGES = ((GIT, "changed_files"),)

# In the order pipelines are told about them (docs/builtins.md).
BUILTINS = (
    Builtin("trigger_job", reaches="triggers file", source=PRELUDE, over="_emit"),
    Builtin("submit_job", reaches="triggers file", source=PRELUDE, over="_emit"),
    Builtin("changed_files", calls=_GIT_CHANGES, reaches="git", source=PRELUDE,
            over="_changed_files_json", preload=GIT_VERSION),
    Builtin("changes", calls=((GIT, "changes"),), reaches="git", source=PRELUDE,
            over="_changes_json", preload=GIT_VERSION),
    Builtin("changes_include", calls=_GIT_CHANGES, reaches="git", source="git.py",
            preload=GIT_VERSION),
    Builtin("changes_only", calls=_GIT_CHANGES, reaches="git", source="git.py",
            preload=GIT_VERSION),
    Builtin("git_info", calls=((GIT, "info"),), reaches="git", source="git.py",
            preload=GIT_VERSION),
    Builtin("is_job_running", calls=((JOB_STATE, "is_job_running"),), reaches="coordinator",
            source="coordinator.py", preload=HTTP_CLIENT),
    Builtin("get_job_result", calls=((JOB_STATE, "get_job_result"),), reaches="coordinator",
            source="coordinator.py", preload=HTTP_CLIENT),
    Builtin("log_next_job", reaches="log", source="output.py"),
    Builtin("set_workflow_var", reaches="workflow output", source="workflow_state.py"),
    Builtin("set_workflow_output", reaches="workflow output", source="workflow_state.py"),
    Builtin("workflow", reaches="triggers file", source="__init__.py"),
    Builtin("print", reaches="log", source=PRELUDE, over="_print", in_ctx=False),
    Builtin("ctx", reaches="context", source=PRELUDE, in_ctx=False, value=True),
)

# -- derived: every list of builtins the engine uses ---------------------------------

# Every name a pipeline sees besides Starlark's own (fail, struct, json, ...).
PREDECLARED = tuple(row.name for row in BUILTINS)
BY_NAME = {row.name: row for row in BUILTINS}
# What the policy may disable (`builtins.disabled`): every function.
DISABLABLE = tuple(row.name for row in BUILTINS if not row.value)
# The functions `ctx` carries, by field.
CTX_FUNCTIONS = tuple(row.ctx_field for row in BUILTINS if row.ctx_field is not None)
CONTEXT_KEYS = tuple(name for name, _ in CONTEXT_FIELDS)


def callable_name(name: str) -> str:
    """The name the prelude binds a builtin's Python half to (its own, or `over`)."""
    return BY_NAME[name].over or name


def calls_by_builtin() -> dict[str, tuple[tuple[str, str], ...]]:
    """The capability calls of each builtin that makes any."""
    return {row.name: row.calls for row in BUILTINS if row.calls}


def remote_methods() -> dict[str, frozenset[str]]:
    """What the sandbox may ask its parent, by capability: the builtins' calls and load's."""
    methods: dict[str, set[str]] = {}
    for capability, method in [LOAD_CALL, *(c for row in BUILTINS for c in row.calls)]:
        methods.setdefault(capability, set()).add(method)
    return {capability: frozenset(found) for capability, found in methods.items()}


def _mentions(text: str, names: Iterable[str]) -> bool:
    """Whether `text` holds one of `names` as a whole word (in code, a comment, a string)."""
    import re

    return re.search(r"\b(?:" + "|".join(names) + r")\b", text) is not None


def preloads(text: str) -> tuple[str, ...]:
    """What is worth starting in the background for a pipeline of this text."""
    return tuple(
        wanted for wanted in PRELOADS
        if _mentions(text, [row.name for row in BUILTINS if row.preload == wanted])
    )
