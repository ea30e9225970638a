"""Command-line arguments, declared as data.

A small parser of its own rather than argparse: argparse and what it pulls in
(gettext, shutil, locale, compression modules) cost milliseconds of every ingest's
start-up, and the command line here is small and fixed.
"""

from __future__ import annotations

from engine.core.diagnostics import UsageError

PROG = "python -m engine"
PACKAGE = "reactorcide-pipeline-engine"
COLOR_WHEN = ("auto", "always", "never")

_RUN_OPTIONS: dict[str, tuple[str | None, str]] = {
    # option: (metavar, or None for a flag; help)
    "--src": ("DIR", "source checkout (default $REACTORCIDE_CODE_DIR; in a job /job/src; "
              "elsewhere the git repository holding the current directory)"),
    "--pipeline": ("FILE", "pipeline file (default <src>/pipeline.star)"),
    "--triggers-file": (
        "FILE",
        "triggers file (default $REACTORCIDE_TRIGGERS_FILE, else /job/triggers.json)",
    ),
    "--allow-insecure-transport": (
        None,
        "allow plain http to the coordinator (the token then travels unencrypted)",
    ),
    "--policy": ("FILE", "operator policy (TOML); repeatable, the stricter value wins"),
}

# The event a local run or a test stands for; each overrides what the environment says.
_EVENT_OPTIONS: dict[str, tuple[str | None, str]] = {
    "--event": ("TYPE", "event type: push, tag_created, pull_request_opened, "
                "pull_request_updated, pull_request_merged, pull_request_closed"),
    "--branch": ("NAME", "the pushed branch (ctx.branch; wins over the environment)"),
    "--tag": ("NAME", "a tag event for this tag (ctx.tag)"),
    "--pr": ("NUMBER", "a pull request with this number (ctx.pr)"),
    "--base": ("REF", "the pull request's base branch (ctx.pr.base_ref)"),
    "--head-ref": ("REF", "the pull request's head branch (ctx.pr.head_ref)"),
    "--fork": (None, "the pull request comes from a fork (ctx.pr.is_fork)"),
    "--var": ("KEY=JSON", "a workflow variable (ctx.vars); repeatable"),
    "--changed": ("PATH", "a changed file, in place of git's answer; repeatable"),
}

COMMANDS: dict[str, tuple[str, dict[str, tuple[str | None, str]], str | None]] = {
    # command: (summary, options, positional metavar or None)
    "ingest": (
        "evaluate the pipeline and write the triggers file (the default command)",
        {
            **_RUN_OPTIONS,
            "--dry-run": (None, "evaluate and validate, print the plan, write nothing"),
            "--submit": (
                None,
                "after writing, POST the triggers file to the coordinator (the default when "
                "REACTORCIDE_COORDINATOR_URL, REACTORCIDE_API_TOKEN and REACTORCIDE_JOB_ID "
                "are set); on 201 the file is removed, on failure exit 1 and keep it",
            ),
            "--no-submit": (None, "only write the triggers file, never POST it"),
            "--record": (
                "FILE",
                "also write a transcript of the run (inputs, answers, result; no secrets) "
                "for `replay` and `test`",
            ),
            **_EVENT_OPTIONS,
        },
        None,
    ),
    "plan": (
        "evaluate the pipeline and print the job graph; write nothing",
        {**_RUN_OPTIONS,
         "--format": ("text|json|mermaid|dot|markdown", "output format (default text); "
                      "mermaid and dot draw the graph for markdown viewers and Graphviz; "
                      "with --diff: text, json or markdown (for a pull-request comment)"),
         "--diff": ("REF", "compare the plan of the pipeline as it is at REF (its files "
                    "read from git, loads included) with the plan now: jobs added, "
                    "removed and changed field by field"),
         "--events": ("LIST", "with --diff: compare once per event, e.g. "
                      "push,pull_request_opened,tag_created"),
         "--exit-code": (None, "with --diff: exit 1 when the plans differ"),
         **_EVENT_OPTIONS},
        None,
    ),
    "replay": (
        "evaluate a recorded run again from its transcript alone (no git, no network)",
        {
            "--triggers-file": ("OUT", "write the document there (default: stdout)"),
            "--check": (None, "compare with the recorded result; on drift show a diff and "
                        "exit 1"),
            "--policy": _RUN_OPTIONS["--policy"],
        },
        "FILE",
    ),
    "test": (
        "run pipeline test cases (TOML cases and transcripts) under PATH...",
        {
            "--update": (None, "rewrite golden triggers files with what the runs produce"),
            "--policy": _RUN_OPTIONS["--policy"],
            "-k": ("PATTERN", "run only the cases whose path contains PATTERN (a glob "
                   "when it has * ? or [)"),
            "-v": (None, "list every case, passed ones too"),
            "--junit": ("FILE", "also write the results as a JUnit XML report"),
        },
        "[PATH...]",
    ),
    "check": (
        "parse and lint pipeline files without running them",
        {
            "--capabilities": (None, "list the builtins each file can call and the files "
                               "it loads, for review"),
            "--src": ("DIR", "source root that //-loads resolve in (default: each file's "
                      "directory)"),
            "--policy": _RUN_OPTIONS["--policy"],
            "--format": ("text|json|github", "report format (default text); github writes "
                         "workflow annotations"),
            "--strict": (None, "warnings fail the check too (exit 1)"),
        },
        "PATH...",
    ),
    "policy": (
        "print the effective policy as TOML ('policy show')",
        {"--policy": _RUN_OPTIONS["--policy"]},
        "show",
    ),
}

_OPTIONAL_POSITIONALS = frozenset({"test"})
_REPEATABLE = frozenset({"--policy", "--var", "--changed"})


class Arguments:
    """The parsed command line: the command, option values by name, positionals."""

    __slots__ = ("command", "options", "positionals")

    def __init__(self, command: str, options: dict[str, str | bool | list[str] | None],
                 positionals: list[str]) -> None:
        self.command = command
        self.options = options
        self.positionals = positionals

    def value(self, option: str) -> str | None:
        """An option's value, None when not given."""
        value = self.options.get(option)
        return value if isinstance(value, str) else None

    def flag(self, option: str) -> bool:
        """Whether a flag was given."""
        return self.options.get(option) is True

    def values(self, option: str) -> list[str]:
        """Every value of a repeatable option, in order."""
        value = self.options.get(option)
        return list(value) if isinstance(value, list) else []


class HelpRequested(Exception):
    """`--help` was asked for; the text is the exception's message."""


def parse(argv: list[str]) -> Arguments:
    """Parse a command line; the command defaults to `ingest`."""
    args = list(argv)
    options: dict[str, str | bool | list[str] | None] = {}
    color = _take_color(args)
    if color is not None:
        options["--color"] = color
    command = _take_command(args)
    _, spec, positional = COMMANDS[command]
    positionals: list[str] = []
    while args:
        arg = args.pop(0)
        if arg in ("-h", "--help"):
            raise HelpRequested(command_help(command))
        if arg == "--":
            positionals.extend(args)
            break
        if not arg.startswith("-") or arg == "-":
            positionals.append(arg)
            continue
        _take_option(command, spec, arg, args, options)
    _check_positionals(command, positional, positionals)
    return Arguments(command, options, positionals)


def _take_command(args: list[str]) -> str:
    """Remove the command from the front of `args` (`ingest` when none is named)."""
    from engine.common.suggest import did_you_mean

    if args and args[0] in COMMANDS:
        return args.pop(0)
    if args and args[0] in ("-h", "--help"):
        raise HelpRequested(overview())
    if args and args[0] == "--version":
        raise HelpRequested(version())
    if args and not args[0].startswith("-"):
        raise UsageError(f"unknown command {args[0]!r}{did_you_mean(args[0], COMMANDS)}; "
                         f"the commands are {', '.join(COMMANDS)} (see --help)", PROG)
    return "ingest"


def _take_option(command: str, spec: dict[str, tuple[str | None, str]], arg: str,
                 args: list[str], options: dict[str, str | bool | list[str] | None]) -> None:
    """Record the option `arg` in `options`, taking its value from `args` when it is not
    given inline (`--name=value`)."""
    from engine.common.suggest import did_you_mean

    name, has_value, inline = arg.partition("=")
    if name == "--version":
        raise HelpRequested(version())
    if name not in spec:
        hint = did_you_mean(name, spec) or did_you_mean(name, COMMANDS)
        raise UsageError(f"{command}: unknown option {name}{hint} (see --help)", PROG)
    metavar = spec[name][0]
    if metavar is None:
        if has_value:
            raise UsageError(f"{command}: {name} takes no value", PROG)
        options[name] = True
        return
    if has_value:
        value = inline
    elif args:
        value = args.pop(0)
    else:
        raise UsageError(f"{command}: {name} needs a value ({metavar})", PROG)
    choices = metavar.split("|") if "|" in metavar else ()
    if choices and value not in choices:
        allowed = ", ".join(choices)
        raise UsageError(f"{command}: {name} must be one of {allowed}, not {value!r}", PROG)
    if name in _REPEATABLE:
        previous = options.get(name)
        options[name] = [*(previous if isinstance(previous, list) else []), value]
    else:
        options[name] = value


def _check_positionals(command: str, positional: str | None, positionals: list[str]) -> None:
    """Refuse positional arguments the command does not take, or missing ones."""
    if positional is None and positionals:
        raise UsageError(f"{command}: unexpected argument {positionals[0]!r} (see --help)", PROG)
    if positional is not None and not positionals and command not in _OPTIONAL_POSITIONALS:
        raise UsageError(f"{command}: expected {positional} (see --help)", PROG)
    if command == "replay" and len(positionals) != 1:
        raise UsageError("replay: expected one transcript FILE (see --help)", PROG)
    if command == "policy" and positionals != ["show"]:
        raise UsageError("policy: the only action is 'show' (see --help)", PROG)


def _take_color(args: list[str]) -> str | None:
    """Remove `--color[=WHEN]` (an option of every command) from `args`; its value."""
    found: str | None = None
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            break
        if arg == "--color" or arg.startswith("--color="):
            del args[index]
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif index < len(args) and args[index] in COLOR_WHEN:
                value = args.pop(index)
            else:
                value = "always"
            if value not in COLOR_WHEN:
                raise UsageError(f"--color must be one of {', '.join(COLOR_WHEN)}, not "
                                 f"{value!r}", PROG)
            found = value
            continue
        index += 1
    return found


def version() -> str:
    """`PROG (package) VERSION`."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed

    try:
        number = installed(PACKAGE)
    except PackageNotFoundError:
        number = "unknown (not installed)"
    return f"{PROG} ({PACKAGE}) {number}\n"


def program_name(argv0: str) -> str:
    """How the user called the engine: its installed script's name, else
    `python -m engine`."""
    import os

    base = os.path.basename(argv0)
    return base if base and not base.endswith(".py") and base != "-c" else "python -m engine"


def _width() -> int:
    """The terminal's width: $COLUMNS, else the terminal's, else 80 (at least 40)."""
    import os

    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit():
        return max(40, int(columns))
    try:
        return max(40, os.get_terminal_size(1).columns)
    except OSError:
        return 80


def _wrap(text: str, width: int, indent: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=max(width - indent, 20), break_on_hyphens=False,
                         break_long_words=False) or [""]


def overview() -> str:
    """Help for the whole program, wrapped to the terminal."""
    width = _width()
    lines = [
        f"usage: {PROG} [COMMAND] [OPTIONS]",
        "",
        *_wrap("Evaluate a repository's pipeline.star in a sandbox and write the triggers "
               "file.", width, 0),
        "",
        "commands:",
    ]
    for name, (summary, _, _) in COMMANDS.items():
        wrapped = _wrap(summary, width, 11)
        lines.append(f"  {name:8} {wrapped[0]}")
        lines += [" " * 11 + more for more in wrapped[1:]]
    lines += ["", *_wrap(f"'{PROG} COMMAND --help' lists a command's options; "
                         f"'{PROG} --version' prints the version; --color=auto|always|never "
                         "(any command) colours errors and warnings (auto: on a terminal, "
                         "unless NO_COLOR is set).", width, 0)]
    return "\n".join(lines) + "\n"


def command_help(command: str) -> str:
    """Help for one command, wrapped to the terminal."""
    width = _width()
    summary, spec, positional = COMMANDS[command]
    usage = f"usage: {PROG} {command} [OPTIONS]" + (f" {positional}" if positional else "")
    lines = [usage, "", *_wrap(summary, width, 0), "", "options:"]
    entries = [(f"{name} {metavar}" if metavar else name, text)
               for name, (metavar, text) in spec.items()]
    entries += [("--color WHEN", "colour errors and warnings: auto (default), always, never"),
                ("-h, --help", "show this help")]
    column = min(max(len(label) for label, _ in entries) + 4, 36)
    if width - column < 30:  # a narrow terminal: the text goes under the option
        column = 6
    for label, text in entries:
        wrapped = _wrap(text, width, column)
        if column == 6 or len(label) + 2 > column - 2:
            lines.append(f"  {label}")
            lines += [" " * column + part for part in wrapped]
        else:
            lines.append(f"  {label:{column - 2}}{wrapped[0]}")
            lines += [" " * column + part for part in wrapped[1:]]
    return "\n".join(lines) + "\n"
