"""Plain-text key/value tables drawn as rich draws them, without importing rich (issue 16).

``accelsim gemm`` prints one small two-column table; when its output is not a terminal (a pipe,
a file, a test's capture) rich adds no styles, so the characters are fully determined by the
layout below and the command need not pay rich's import (about 35 CPU-ms of a 0.7 s process).
The layout is rich's ``Table(title=..., show_header=False, title_justify="left")`` with a
left-justified key column and a right-justified value column in the default ``box.HEAVY_HEAD``
box (its head line is not drawn without a header): one space of padding each side of a cell,
the title word-wrapped to the table's width and padded to it. tests/test_startup.py compares
the output with rich's own rendering.
"""
from __future__ import annotations

import textwrap
from typing import Sequence

#: the widest table drawn here; wider ones go to rich, which would shrink its columns
MAX_WIDTH = 150


#: non-ASCII characters the tables print (``si``'s micro sign) that take one cell, as for rich
_ONE_CELL = frozenset("µ")


def _narrow(text: str) -> bool:
    """Every character printable and one cell wide (so ``len`` is rich's cell length)."""
    return text.isprintable() and (text.isascii() or all(ch.isascii() or ch in _ONE_CELL
                                                         for ch in text))


def key_value_table(title: str, rows: Sequence[tuple[str, str]]) -> str | None:
    """The table's text (lines ending in newlines), or None when rich must draw it (a table
    wider than ``MAX_WIDTH``, a title word longer than the table, or text where rich's cell widths could differ from ``len``)."""
    cells = [c for r in rows for c in r] + [title]
    if not all(_narrow(c) for c in cells) or "[" in title:
        return None  # other characters or markup: leave the measuring to rich
    wk = max(len(k) for k, _ in rows)
    wv = max(len(v) for _, v in rows)
    width = wk + wv + 7  # 3 borders, 1 space of padding each side of both cells
    if width > MAX_WIDTH or any(len(w) > width for w in title.split()):
        return None  # rich folds a word longer than the table on lines of its own
    lines = [ln.ljust(width) for ln in
             textwrap.wrap(title, width, break_on_hyphens=False)] if title.strip() else []
    lines.append(f"┌{'─' * (wk + 2)}┬{'─' * (wv + 2)}┐")
    lines += [f"│ {k.ljust(wk)} │ {v.rjust(wv)} │" for k, v in rows]
    lines.append(f"└{'─' * (wk + 2)}┴{'─' * (wv + 2)}┘")
    return "".join(ln + "\n" for ln in lines)
