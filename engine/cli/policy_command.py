"""`policy show`: print the effective operator policy as TOML."""

from __future__ import annotations

from engine.cli.shared import EXIT_OK, Console, load_policy

TYPE_CHECKING = False
if TYPE_CHECKING:
    from engine.run.arguments import Arguments


def run(args: Arguments, console: Console) -> int:
    """Write the layered policy; it reads back as the same policy."""
    from engine.policy import render_toml

    console.out.write(render_toml(load_policy(args)))
    return EXIT_OK
