"""CLI: ``accelsim sweep | pareto | plot | report`` (a plugin module of ``accelsim.cli``)."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ..errors import AccelsimError
from .expr import ExprError, ExprLimitError, parse_expr
from .pareto import default_reference, default_sense, hypervolume, pareto_mask
from .store import ResultStore

Handler = Callable[[argparse.Namespace, Console], int]
PLOT_KINDS = ("pareto", "heatmap", "breakdown", "roofline", "timeline")
#: plots of one simulation: a run's JSON gives these (a result store gives every kind)
RUN_PLOT_KINDS = ("breakdown", "roofline", "timeline")


def add_commands(sub: Any) -> dict[str, Handler]:
    """Register the DSE subcommands; return their handlers."""
    s = sub.add_parser("sweep", help="run a design-space sweep from an experiment YAML")
    s.add_argument("experiment", help="experiment YAML (see docs/dse.md)")
    s.add_argument("--store", help="result store directory (default: out/sweeps/<experiment>)")
    s.add_argument("-o", "--override", action="append", default=[], metavar="KEY=VALUE",
                   help="override an experiment key, e.g. -o strategy.seed=3 (repeatable)")
    s.add_argument("--workers", type=positive_int, help="worker processes, >= 1 (default: all "
                   "cores)")
    s.add_argument("--backend", choices=("local", "ray"), default="local")
    s.add_argument("--address", help="Ray cluster address (default: start a local Ray)")
    s.add_argument("--resume", action="store_true", help="continue the sweep in --store "
                   "(points that failed are run again)")
    s.add_argument("--keep-failed", action="store_true",
                   help="with --resume: do not run points that failed again")
    s.add_argument("--overwrite", action="store_true", help="replace an existing store")
    s.add_argument("--chunk-size", type=positive_int, help="points per task, >= 1 (default: "
                   "automatic)")
    s.add_argument("--dry-run", action="store_true",
                   help="check the experiment and list the points; run nothing")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    s.add_argument("--json", metavar="FILE", help="write the sweep report as JSON ('-': stdout)")

    p = sub.add_parser("pareto", help="the Pareto frontier of a result store")
    _store_args(p)
    p.add_argument("--ref", help="hypervolume reference point, comma-separated "
                   "(default: worst value + 10%% of the range per objective)")
    p.add_argument("--json", metavar="FILE", help="write the frontier rows as JSON ('-': stdout)")
    p.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")

    g = sub.add_parser("plot", help="plot a result store (pareto, heatmap, breakdown, roofline, "
                                    "timeline) or a run's JSON (breakdown, roofline, timeline)")
    g.add_argument("store", help="result store folder (accelsim sweep), or a run's JSON file "
                                 "(accelsim run ARCH WORKLOAD --json FILE)")
    g.add_argument("kind", choices=PLOT_KINDS)
    g.add_argument("-o", "--output", help="PNG, PDF, SVG or EPS (default: STORE/plots/KIND.png, "
                   "or FILE_KIND.png beside a run's JSON)")
    g.add_argument("--size", choices=("column", "double"), default=None,
                   help="figure width: column (3.33 in) or double (7.0 in, the text width); "
                        "default: column, double for timelines and breakdowns of many bars")
    g.add_argument("--no-title", action="store_true", help="no title (a paper's caption "
                   "says it)")
    g.add_argument("--title", help="title text instead of the automatic one")
    g.add_argument("--arch", help="roofline of a run's JSON written without its architecture "
                   "(older accelsim): the architecture YAML it ran on")
    g.add_argument("--x", help="x metric or parameter (pareto, heatmap)")
    g.add_argument("--y", help="y metric or parameter (pareto, heatmap)")
    g.add_argument("--z", help="third objective for the frontier (pareto)")
    g.add_argument("--value", help="metric shown by a heatmap (default: first objective)")
    g.add_argument("--agg", default="min", help="heatmap: min|max|mean|median over other axes")
    g.add_argument("--keys", help="breakdown/roofline: comma-separated point keys (prefixes)")
    g.add_argument("--best", help="breakdown/roofline: take the best points by this metric "
                   "(max:NAME to maximise)")
    g.add_argument("-n", type=int, default=4, help="breakdown: how many best points")
    g.add_argument("--by", default="op", choices=("op", "kind", "unit", "component"),
                   help="breakdown groups (component: energy by hardware component)")
    g.add_argument("--metric", default="latency", choices=("latency", "energy"),
                   help="breakdown: latency or energy")
    g.add_argument("--color-by", default="family", help="pareto: colour column (default "
                   "family); timeline: kind (default) or bound")
    g.add_argument("--logx", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--logy", action=argparse.BooleanOptionalAction, default=None)
    g.add_argument("--where", help="only rows where this expression holds")
    g.add_argument("--include-infeasible", action="store_true",
                   help="also rows that break a metric constraint (pareto always draws them, "
                        "hollow and off the frontier; with this, as feasible)")

    r = sub.add_parser("report", help="a table of a result store: markdown, latex or csv")
    _store_args(r)
    r.add_argument("--format", choices=("markdown", "latex", "csv"), default="markdown")
    r.add_argument("--all", action="store_true", help="all points, not just the frontier")
    r.add_argument("--columns", help="comma-separated columns (default: parameters + objectives)")
    r.add_argument("--sort", help="sort by this column (max:NAME for descending)")
    r.add_argument("--top", type=int, help="only the first N rows")
    r.add_argument("--caption", help="LaTeX caption")
    r.add_argument("--output", help="write to this file instead of stdout")
    return {"sweep": cmd_sweep, "pareto": cmd_pareto, "plot": cmd_plot, "report": cmd_report}


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _store_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("store", help="result store directory written by accelsim sweep")
    p.add_argument("--x", help="first objective (max:NAME to maximise)")
    p.add_argument("--y", help="second objective")
    p.add_argument("--z", help="third objective")
    p.add_argument("--objective", action="append", default=[], metavar="[max:|min:]NAME",
                   help="more objectives (repeatable); default: the experiment's")
    p.add_argument("--where", help="only rows where this expression holds, e.g. "
                   "\"base == 'sa' and latency_s < 0.2\"")
    p.add_argument("--include-infeasible", action="store_true",
                   help="also rows that break a metric constraint")


# ---------------------------------------------------------------------------- sweep

def cmd_sweep(args: argparse.Namespace, console: Console) -> int:
    from .experiment import load_experiment
    from .progress import NullProgress, RichProgress
    from .runner import run_sweep
    if args.keep_failed and not args.resume:
        raise AccelsimError("--keep-failed only applies to --resume (a new sweep has no "
                            "stored failed points)")
    exp = load_experiment(args.experiment, args.override)
    store = args.store or str(Path("out") / "sweeps" / Path(args.experiment).stem)
    if args.dry_run:
        return _dry_run(exp, console)
    err = Console(stderr=True)
    progress = NullProgress() if args.no_progress else RichProgress(err)
    try:
        rep = run_sweep(exp, store, workers=args.workers, backend=args.backend,
                        address=args.address, resume=args.resume, overwrite=args.overwrite,
                        chunk_size=args.chunk_size, progress=progress,
                        retry_failed=not args.keep_failed)
    except KeyboardInterrupt:
        n = len(ResultStore(store)) if (Path(store) / "manifest.json").is_file() else 0
        err.print(f"interrupted: {n} finished points are in {store}; continue with\n"
                  f"  accelsim sweep {args.experiment} --store {store} --resume")
        return 130
    if args.json:
        text = json.dumps(rep.to_dict(), indent=1)
        print(text) if args.json == "-" else Path(args.json).write_text(text + "\n")
    if args.json != "-":
        console.print(f"[green]done[/green] {rep.experiment}: {rep.evaluated} points run, "
                      f"{rep.skipped} taken from the store, {rep.failed} failed, {rep.infeasible} "
                      f"infeasible; {rep.elapsed_s:.1f} s ({rep.points_per_s:,.0f} points/s, "
                      f"{rep.workers} worker(s), {rep.backend}) -> {store}")
        if rep.retried:
            console.print(f"{rep.retried} failed points retried")
        if rep.rederived:
            console.print(f"derived metrics, per-token metrics and feasibility of "
                          f"{rep.rederived} stored points recomputed for the edited experiment")
        if rep.failed:
            first = ResultStore(store).load(status="error")["error"].iloc[0]
            console.print(f"[yellow]first failure:[/yellow] {first}", markup=True)
    return 0


def _dry_run(exp: Any, console: Console) -> int:
    from .evaluate import resolve
    from .schema import OptunaStrategy
    from .strategies import planned_points, strategy_label
    console.print(f"{exp.name}: space of {exp.space.size} points, strategy "
                  f"{strategy_label(exp)}")
    if isinstance(exp.spec.strategy, OptunaStrategy):
        console.print("every axis value checked against its base; ok")
        return 0
    pts = planned_points(exp)
    tasks = [resolve(exp, p) for p in pts]
    console.print(f"{len(tasks)} points planned and validated (after input constraints)")
    for t in tasks[:10]:
        vals = ", ".join(f"{k}={v}" for k, v in t.values.items())
        console.print(f"  #{t.index} {t.base}/{t.workload}: {vals}", markup=False)
    if len(tasks) > 10:
        console.print(f"  ... {len(tasks) - 10} more")
    return 0


# ---------------------------------------------------------------------------- selection

def _objectives(args: argparse.Namespace, store: ResultStore) -> dict[str, str]:
    given = [v for v in (args.x, args.y, getattr(args, "z", None)) if v] + \
        list(getattr(args, "objective", []))
    stored = store.manifest.get("objectives", {})
    if not given:
        if not stored:
            raise AccelsimError("the experiment has no objectives; name them with --x/--y")
        return dict(stored)
    out: dict[str, str] = {}
    for g in given:
        sense, _, name = g.rpartition(":")
        if sense and sense not in ("min", "max"):
            raise AccelsimError(f"{g!r}: write min:NAME or max:NAME")
        out[name] = sense or stored.get(name) or default_sense(name)
    return out


def _rows(args: argparse.Namespace, store: ResultStore) -> pd.DataFrame:
    df = store.load(status="ok")
    if not getattr(args, "include_infeasible", False) and "feasible" in df:
        df = df[df["feasible"].astype(bool)]
    if getattr(args, "where", None):
        df = _where(df, args.where)
    if df.empty:
        raise AccelsimError(f"{store.path}: no (feasible, selected) points")
    return df.reset_index(drop=True)


def _where(df: pd.DataFrame, text: str) -> pd.DataFrame:
    try:
        expr = parse_expr(text)
    except ExprError as e:
        raise AccelsimError(f"--where: {e}") from None
    missing = [n for n in expr.names if n not in df.columns]
    if missing:
        from ..config import suggest
        raise AccelsimError(f"--where: no column {missing[0]!r}{suggest(missing[0], df.columns)}")
    keep = []
    for rec in df[list(expr.names)].to_dict("records"):
        try:
            keep.append(bool(expr(rec)))
        except ExprLimitError as e:  # a bomb, not a row that fails the filter
            raise AccelsimError(f"--where: {e}") from None
        except (ArithmeticError, TypeError, ValueError):
            keep.append(False)
    return df[np.array(keep, dtype=bool)]


def _check_cols(df: pd.DataFrame, names: list[str]) -> None:
    from ..config import suggest
    for n in names:
        if n not in df.columns:
            raise AccelsimError(f"no column {n!r}{suggest(n, df.columns)}")


def _params(store: ResultStore, df: pd.DataFrame) -> list[str]:
    return [p for p in store.manifest.get("param_types", {}) if p in df.columns]


def _whole(store: ResultStore, df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with its whole-number parameters printed as integers (``whole_columns``)."""
    from ..report.sweep import whole_columns
    return whole_columns(df, [p for p, t in store.manifest.get("param_types", {}).items()
                              if t == "int"])


# ---------------------------------------------------------------------------- pareto

def cmd_pareto(args: argparse.Namespace, console: Console) -> int:
    store = ResultStore(args.store)
    df = _rows(args, store)
    objs = _objectives(args, store)
    _check_cols(df, list(objs))
    vals = df[list(objs)].to_numpy(dtype=float)
    senses = list(objs.values())
    mask = pareto_mask(vals, senses)
    front = _whole(store, df[mask].sort_values(list(objs),
                                               ascending=[s == "min" for s in senses]))
    if args.ref:
        ref = np.array([float(v) for v in args.ref.split(",")])
        if len(ref) != len(objs):
            raise AccelsimError(f"--ref needs {len(objs)} values, got {len(ref)}")
    else:
        ref = default_reference(vals, senses)
    hv = hypervolume(vals, senses, ref)
    cols = (["base"] if df["base"].nunique() > 1 else []) + _params(store, df) + list(objs)
    if args.json:
        data = {"objectives": objs, "reference": ref.tolist(), "hypervolume": hv,
                "points": int(len(df)), "front": json.loads(front[["key"] + cols].to_json(
                    orient="records"))}
        text = json.dumps(data, indent=1)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).write_text(text + "\n")
    from ..report.sweep import fmt_value
    t = Table(title=f"Pareto frontier: {len(front)} of {len(df)} points "
              f"({', '.join(f'{s} {n}' for n, s in objs.items())})", title_justify="left")
    for c in ["key"] + cols:
        t.add_column(c, justify="left" if c in ("key", "base") else "right")
    for _, r in front.head(args.limit).iterrows():
        t.add_row(str(r["key"])[:10], *[fmt_value(r[c]) for c in cols])
    console.print(t)
    if len(front) > args.limit:
        console.print(f"... {len(front) - args.limit} more (--limit)")
    console.print(f"hypervolume {hv:.6g} (reference point {', '.join(f'{v:.6g}' for v in ref)})")
    return 0


# ---------------------------------------------------------------------------- plot

def _plot_style(args: argparse.Namespace, auto: Any = None) -> dict[str, Any]:
    """size and title keywords of the plot functions from --size, --title, --no-title."""
    from ..report import plots
    title = None if args.no_title else args.title or (plots.AUTO if auto is None else auto)
    return {"size": args.size, "title": title}


def cmd_plot(args: argparse.Namespace, console: Console) -> int:
    from ..report import plots
    if Path(args.store).is_file():
        return _plot_run(args, console)
    store = ResultStore(args.store)
    if args.kind == "pareto":  # every design: infeasible ones hollow, off the frontier
        df = _rows(argparse.Namespace(**{**vars(args), "include_infeasible": True}), store)
    else:
        df = _rows(args, store)
    out = Path(args.output or Path(args.store) / "plots" / f"{args.kind}.png")
    if args.kind == "pareto":
        objs = _objectives(args, store)
        names = list(objs)
        if len(names) < 2:
            raise AccelsimError("a Pareto plot needs two objectives (--x and --y)")
        _check_cols(df, names + [args.color_by])
        fig = plots.plot_pareto(df, names[0], names[1], z=names[2] if len(names) > 2 else None,
                                senses=objs, color_by=args.color_by, logx=args.logx,
                                logy=args.logy, feasible="" if args.include_infeasible
                                else "feasible", **_plot_style(args))
    elif args.kind == "heatmap":
        if not (args.x and args.y):
            raise AccelsimError("a heatmap needs --x and --y (two parameters)")
        value = args.value or next(iter(store.manifest.get("objectives", {})), None)
        if value is None:
            raise AccelsimError("a heatmap needs --value METRIC")
        _check_cols(df, [args.x, args.y, value])
        fig = plots.plot_heatmap(df, args.x, args.y, value, agg=args.agg, **_plot_style(args))
    else:
        fig = _per_point_plot(args, store, df)
    plots.save_figure(fig, out)
    console.print(f"wrote {out}")
    return 0


def _per_point_plot(args: argparse.Namespace, store: ResultStore, df: pd.DataFrame) -> Any:
    from ..report import plots
    from .replay import describe, pick_points, point_labels, replay
    keys = [k.strip() for k in args.keys.split(",")] if args.keys else None
    best, sense = None, "min"
    if args.best:
        sense, _, best = args.best.rpartition(":")
        sense = sense or store.manifest.get("objectives", {}).get(best) or default_sense(best)
    elif not keys:
        best = next(iter(store.manifest.get("objectives", {})), "latency_s")
        sense = store.manifest.get("objectives", {}).get(best, "min")
    n = 1 if args.kind in ("roofline", "timeline") else args.n
    rows = pick_points(df, keys, best, sense, n)
    params = _params(store, df)
    if args.kind in ("roofline", "timeline"):
        arch, result = replay(store, str(rows.iloc[0]["key"]))
        return _one_run_plot(args, result, arch, describe(rows.iloc[0], params))
    labels = point_labels(rows, params)
    results = {lab: replay(store, str(r["key"]))[1] for lab, (_, r) in zip(labels, rows.iterrows())}
    return plots.plot_breakdown(results, metric=args.metric, by=args.by, **_plot_style(args))


def _one_run_plot(args: argparse.Namespace, result: Any, arch: Any, label: str) -> Any:
    """A roofline or timeline of one simulation (``arch`` may be None for a timeline)."""
    from ..report import plots
    if args.kind == "roofline":
        return plots.plot_roofline(result, arch, **_plot_style(args, label))
    color = "kind" if args.color_by == "family" else args.color_by
    return plots.plot_timeline(result, color_by=color, **_plot_style(args))


def _plot_run(args: argparse.Namespace, console: Console) -> int:
    """``accelsim plot RUN.json breakdown|roofline|timeline``: figures of one run's JSON."""
    from ..report import plots
    from ..report.runfile import load_run, record_arch
    if args.kind not in RUN_PLOT_KINDS:
        raise AccelsimError(f"{args.store} is a run's JSON: it gives {', '.join(RUN_PLOT_KINDS)} "
                            f"plots; a {args.kind} plot needs a result store (accelsim sweep)")
    rec = load_run(args.store)
    src = Path(args.store)
    out = Path(args.output or src.with_name(f"{src.stem}_{args.kind}.png"))
    if args.kind == "breakdown":
        fig = plots.plot_breakdown({rec.arch: rec}, metric=args.metric, by=args.by,
                                   **_plot_style(args))
    else:
        arch = record_arch(rec, args.arch) if args.kind == "roofline" else None
        fig = _one_run_plot(args, rec, arch, plots.AUTO)
    plots.save_figure(fig, out)
    console.print(f"wrote {out}")
    return 0


# ---------------------------------------------------------------------------- report

def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from ..report.sweep import render_table
    store = ResultStore(args.store)
    df = _rows(args, store)
    has_objs = bool(args.x or args.y or args.z or args.objective
                    or store.manifest.get("objectives"))
    objs = _objectives(args, store) if has_objs else {}
    if objs and not args.all:
        _check_cols(df, list(objs))
        df = df[pareto_mask(df[list(objs)].to_numpy(dtype=float), list(objs.values()))]
    if args.columns:
        cols = [c.strip() for c in args.columns.split(",")]
        _check_cols(df, cols)
    else:
        cols = (["base"] if df["base"].nunique() > 1 else []) + _params(store, df) + \
            [o for o in objs if o in df.columns]
        cols = cols or ["base", "latency_s"]
    sort = args.sort or (next(iter(objs)) if objs else None)
    if sort:
        sense, _, name = sort.rpartition(":")
        _check_cols(df, [name])
        df = df.sort_values(name, ascending=(sense or objs.get(name, "min")) != "max",
                            kind="stable")
    if args.top:
        df = df.head(args.top)
    text = render_table(_whole(store, df), cols, args.format, caption=args.caption)
    if args.output:
        os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
        Path(args.output).write_text(text)
        console.print(f"wrote {args.output}")
    else:
        print(text, end="")
    return 0
