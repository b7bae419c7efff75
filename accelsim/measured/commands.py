"""``accelsim measured check ARCH CSV`` and ``accelsim measured fit ARCH CSV --out FILE``."""
from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from ..errors import ConfigError


def add_commands(sub) -> dict:
    m = sub.add_parser("measured", help="check a device against measured cases, or fit its "
                                        "documented efficiencies (GPU)")
    msub = m.add_subparsers(dest="measured_cmd", required=True)
    c = msub.add_parser("check", help="predicted vs measured time per case, and per kind")
    c.add_argument("arch")
    c.add_argument("csv", help="measured cases (README: 'Checking against measurements')")
    c.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    c.add_argument("--fidelity", default="op")
    c.add_argument("--json", metavar="FILE", help="write every row and the summary as JSON")
    c.add_argument("--rows", type=int, default=20, help="worst rows to print (default 20)")
    f = msub.add_parser("fit", help="fit the GPU efficiency values on half the cases, report "
                                    "the other half")
    f.add_argument("arch")
    f.add_argument("csv")
    f.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE")
    f.add_argument("--out", required=True, help="calibration set to write (YAML)")
    f.add_argument("--name", default="fitted", help="name of the set (default: fitted)")
    return {"measured": cmd_measured}


def cmd_measured(args, console: Console) -> int:
    from ..arch import load_arch
    from .cases import read_cases
    arch = load_arch(args.arch, args.override)
    cases = read_cases(args.csv)
    if args.measured_cmd == "check":
        return _check(arch, cases, args, console)
    return _fit(arch, cases, args, console)


def _check(arch, cases, args, console: Console) -> int:
    from .check import check, summary
    df = check(arch, cases, args.fidelity)
    s = summary(df)
    worst = df.assign(abs=df["error"].abs()).sort_values("abs", ascending=False).head(args.rows)
    t = Table(title=f"worst {len(worst)} of {len(df)} cases on {arch.name}", title_justify="left")
    for col in ("row", "kind", "case", "measured µs", "predicted µs", "error", "kernel"):
        t.add_column(col, justify="right" if "µs" in col or col in ("row", "error") else "left")
    for r in worst.itertuples(index=False):
        t.add_row(str(r.row), r.kind, r.case, f"{r.measured_us:,.2f}", f"{r.predicted_us:,.2f}",
                  f"{r.error:+.1%}", r.kernel)
    console.print(t)
    console.print(_summary_table(s, f"{args.csv} on {arch.name}"))
    if args.json:
        _write(args.json, {"arch": arch.name, "csv": args.csv, "summary": s.to_dict("records"),
                           "rows": df.to_dict("records")})
    return 0


def _summary_table(s, title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("kind", "cases", "median |error|", "p90 |error|", "median error"):
        t.add_column(col, justify="left" if col == "kind" else "right")
    for r in s.itertuples(index=False):
        t.add_row(r.kind, str(r.cases), f"{r.median_abs_error:.1%}", f"{r.p90_abs_error:.1%}",
                  f"{r.median_error:+.1%}")
    return t


def _fit(arch, cases, args, console: Console) -> int:
    from .fit import fit
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError("is a directory; give a .yaml file to write", file=str(out))
    res = fit(arch, cases, log=lambda m: console.print(f"  {m}"))
    doc = {args.name: {
        "fitted_on": {"csv": str(args.csv), "device": arch.name, "train_rows": res["train_rows"],
                      "held_out_rows": res["held_out_rows"],
                      "split": "alternate rows of each (kind, name) in file order; model rows "
                               "never fitted"},
        "method": "Nelder-Mead on a log scale per group of values, mean squared log error on "
                  "the rows each group governs, two sweeps (accelsim/measured/fit.py)",
        "date": time.strftime("%Y-%m-%d"),
        "fitted": res["fitted"], "not_fitted": res["not_fitted"], "copied": res["copied"],
        "train_error": res["train_error"], "held_out_error": res["held_out_error"],
        "values": res["values"]}}
    class _Plain(yaml.SafeDumper):  # no &anchors / *aliases for repeated values
        def ignore_aliases(self, data):  # noqa: D102
            return True

    head = ("# GPU calibration set written by accelsim measured fit "
            f"({time.strftime('%Y-%m-%d')}): values with fit provenance\n")
    try:
        out.write_text(head + yaml.dump(doc, Dumper=_Plain, sort_keys=False, width=100))
    except OSError as e:
        raise ConfigError(f"cannot write: {e.strerror}", file=str(out)) from None
    for which in ("train_error", "held_out_error"):
        import pandas as pd
        s = pd.DataFrame([{"kind": k, **v} for k, v in res[which].items()])
        console.print(_summary_table(s, which.replace("_", " ")))
    gpu = next(n for n, u in arch.units.items() if u.config.type == "gpu")
    console.print(f"wrote {out}; use it with -o units.{gpu}.calibration={out}")
    return 0


def _write(dest: str, data: dict) -> None:
    text = json.dumps(data, indent=1, default=float)
    if dest == "-":
        print(text)
        return
    try:
        Path(dest).write_text(text + "\n")
    except OSError as e:
        raise ConfigError(f"cannot write: {e.strerror}", file=dest) from None
