"""``accelsim reproduce PAPER [--json FILE] [--markdown FILE]``."""
from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from rich.table import Table


def add_commands(sub) -> dict:
    p = sub.add_parser("reproduce", help="a paper's claims: paper value, ours, error, verdict")
    p.add_argument("paper", help="paper name (accelsim list paper)")
    p.add_argument("--json", metavar="FILE", help="write every row as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as Markdown")
    return {"reproduce": cmd_reproduce}


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.4g}"


def cmd_reproduce(args, console: Console) -> int:
    from . import reproduce
    rows = reproduce(args.paper)
    t = Table(title=f"{args.paper}: {sum(r.verdict == 'within' for r in rows)} within, "
                    f"{sum(r.verdict == 'miss' for r in rows)} miss, "
                    f"{sum(r.verdict == 'pending' for r in rows)} pending",
              title_justify="left")
    for col in ("id", "claim", "paper", "ours", "unit", "error", "verdict", "cause"):
        t.add_column(col, justify="right" if col in ("paper", "ours", "error") else "left")
    for r in rows:
        err = "-" if r.error is None else f"{r.error:+.1%}"
        t.add_row(r.id, r.claim, _fmt(r.paper), _fmt(r.ours), r.unit, err, r.verdict,
                  r.cause[:60] + ("…" if len(r.cause) > 60 else ""))
    console.print(t)
    if args.json:
        Path(args.json).write_text(json.dumps([r.to_dict() for r in rows], indent=1))
    if args.markdown:
        lines = ["| id | claim | paper | ours | unit | error | verdict | cause |",
                 "|---|---|---|---|---|---|---|---|"]
        for r in rows:
            err = "-" if r.error is None else f"{r.error:+.1%}"
            lines.append(f"| {r.id} | {r.claim} | {_fmt(r.paper)} | {_fmt(r.ours)} | {r.unit} | "
                         f"{err} | {r.verdict} | {r.cause} |")
        Path(args.markdown).write_text("\n".join(lines) + "\n")
    return 0
