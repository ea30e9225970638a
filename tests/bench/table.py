"""The benchmarks' output: a plain table, columns padded to their widest cell."""

from __future__ import annotations

from collections.abc import Sequence


def print_table(rows: Sequence[Sequence[str]], head: Sequence[str] | None = None) -> None:
    """Print `rows` as aligned columns, under `head` and a rule when given."""
    every = [head, *rows] if head else list(rows)
    widths = [max(len(row[i]) for row in every) for i in range(len(every[0]))]
    if head:
        every.insert(1, ["-" * width for width in widths])
    for row in every:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
              .rstrip())
