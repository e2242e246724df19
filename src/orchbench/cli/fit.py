"""Tables that stay legible in any width: headers wrap, and columns that cannot fit are left out
(least needed first, said in the caption) instead of being squeezed to "c.…  c…  o…".

On a terminal the console's width is the terminal's. In a pipe or a log a table is printed WIDE
columns wide unless COLUMNS says otherwise, so `| less` and CI logs keep every column.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

from rich.console import Console
from rich.table import Table

WIDE = 150

# Headers of the columns a reader can most easily do without, first to go first. A table's key
# columns (arm, task, cost, success, p) are never on it.
LEAST_NEEDED = (
    # orchbench analyze / reproduce
    "p normal approx*", "infra", "U", "wall s", "95% CI $", "iters", "exp. $", "n", "method",
    # orchbench show
    "back", "c.write", "input", "model", "total $",
    # orchbench status
    "intr", "next", "run",
)


def wide(console: Console) -> Console:
    """The console itself on a terminal or when COLUMNS is set; elsewhere one WIDE columns wide."""
    if console.is_terminal or os.environ.get("COLUMNS"):
        return console
    return Console(file=console.file, width=WIDE, no_color=True)


def cut_cells(table: Table, width: int) -> int:
    """How many cells rich would cut short ("…") printing `table` `width` columns wide."""
    def ellipses(w: int) -> int:
        out = Console(file=io.StringIO(), width=w, no_color=True, highlight=False)
        out.print(table)
        return out.file.getvalue().count("…")  # type: ignore[attr-defined]
    return ellipses(width) - ellipses(100_000)


def fit(console: Console, table: Table, *, least_needed: Sequence[str] = LEAST_NEEDED) -> Table:
    """`table` with columns left out, least needed first, until no cell is cut short at the
    console's width; the caption names them."""
    left_out: list[str] = []
    # The named columns first; then, if it still does not fit, from the right (the first two stay).
    for header in [*least_needed, *(str(c.header) for c in reversed(table.columns[2:]))]:
        if not cut_cells(table, console.width):
            break
        column = next((c for c in table.columns if c.header == header), None)
        if column is not None:
            table.columns.remove(column)
            for i, c in enumerate(table.columns):
                c._index = i  # rich pads the first and last column by index
            left_out.append(header)
    if left_out:
        lines = str(table.caption or "").splitlines()
        if any(h.endswith("*") for h in left_out):  # its footnote goes with it
            lines = [line for line in lines if not line.lstrip().startswith("*")]
        table.caption = "\n".join([*lines, f"left out to fit {console.width} columns: {', '.join(left_out)}"])
    return table


def print_tables(console: Console, *tables: Table) -> None:
    out = wide(console)
    for t in tables:
        out.print(fit(out, t))
