"""`check`: parse and lint pipeline files without running them, or list what each can
reach (`--capabilities`)."""

from __future__ import annotations

import os

from engine.cli.shared import EXIT_OK, EXIT_PIPELINE, Console, load_policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.run.arguments import Arguments
    from engine.sandbox.parent import Sandbox


def run(args: Arguments, console: Console, sandbox: Sandbox) -> int:
    """Check every file the arguments name; exit 1 on an error (or a warning, `--strict`)."""
    from engine.check.report import discover, report, suppressed
    from engine.core.diagnostics import Diagnostic
    from engine.run.pipeline_files import collect, render_capabilities, tree_for

    files = discover(args.positionals)
    policy = load_policy(args)
    sources = console.sources
    problems: list[Diagnostic] = []
    reports: list[str] = []
    groups: list[list[str]] = []
    for name in files:
        from engine.run.inputs import read_pipeline

        # Read as ingest reads a pipeline: a regular file, capped, and (inside the
        # source) not a link leading out of it.
        text = read_pipeline(name, args.value("--src") or os.path.dirname(name) or ".")
        texts, names, refused = collect(name, text, tree_for(name, args.value("--src"), policy))
        for loaded, loaded_text in texts.items():
            sources.setdefault(loaded, loaded_text)
        groups.append(list(texts))
        problems.extend(refused)
        reports.append(render_capabilities(name, texts, names, refused, policy))
    if args.flag("--capabilities"):
        console.out.write("".join(reports))
        return EXIT_OK
    payload = [{"name": name, "text": text} for name, text in sources.items()]
    result = sandbox.run({"mode": "check", "sources": payload, "groups": groups,
                          "rules": policy.jobs.to_json()},
                         policy.limits, _NoServices(), files[0])
    order = {name: index for index, name in enumerate(sources)}
    # The child's reply is checked like any other: it may have been subverted.
    from engine.run.recheck import diagnostics_from_child

    found = problems + diagnostics_from_child(result.message.get("diagnostics"), files[0],
                                              str, "check")
    # A file reached from several of the files checked is reported once.
    unique = list({(str(d.location), d.message): d for d in found}.values())
    diagnostics = sorted(
        (d for d in unique if not suppressed(d, sources)),
        key=lambda d: (order.get(d.location.file, len(order)), d.location.line, d.location.col),
    )
    errors, warnings = report(diagnostics, sources, len(sources), args.value("--format") or "text",
                              console.out, console.err, console.paint)
    return EXIT_PIPELINE if errors or (warnings and args.flag("--strict")) else EXIT_OK


class _NoServices:
    """`check` runs nothing, so the sandbox may ask for nothing."""

    def answer(self, capability: str, method: str, args: list[object]) -> object:
        from engine.capabilities.base import CapabilityError

        raise CapabilityError("check does not run the pipeline")

    def show(self, text: str) -> None:
        return None
