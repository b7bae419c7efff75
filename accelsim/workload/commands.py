"""CLI commands of the workload package: ``workload list | show | requests`` and ``trace``,
plus the model and serving options of ``accelsim run`` (``add_run_args``, ``trace_kwargs``,
``run_serving``)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Callable

from rich.console import Console
from rich.table import Table

from ..errors import AccelsimError
from .models import list_models, load_model, models_dir, param_count
from .trace import Trace
from .traceio import save_trace
from .zoo import native_quant

Handler = Callable[[argparse.Namespace, Console], int]


def _bits(v: str) -> float | str:
    try:
        return float(v)
    except ValueError:
        return v  # a dtype name such as fp8_e4m3; checked when the trace is built


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--phase, --batch, --ctx, --prompt and the quantisation options of a zoo workload."""
    g = p.add_argument_group("model-zoo workload (WORKLOAD is a zoo name or a config.json)")
    g.add_argument("--phase", choices=("decode", "prefill"), default="decode")
    g.add_argument("--batch", type=int, default=1, help="requests in the pass (default 1)")
    g.add_argument("--ctx", type=int, default=2048,
                   help="decode: tokens in context, the new one included (default 2048)")
    g.add_argument("--prompt", type=int, default=512, help="prefill: prompt tokens (default 512)")
    g.add_argument("--weight-bits", type=_bits, default=None,
                   help="1, 1.58, 2, 3, 4, 8, 16 or a dtype name (default: the model's own: "
                        "1.58 for BitNet b1.58, else 16)")
    g.add_argument("--act-dtype", default=None,
                   help="GEMM activation dtype: bf16, fp16, int8, fp8... (default: the model's "
                        "own: int8 for BitNet b1.58, else bf16)")
    g.add_argument("--kv-bits", type=_bits, default=16, help="KV-cache bits or dtype (default 16)")
    g.add_argument("--group-size", type=int, default=None,
                   help="weight quantisation group along K (integer weights)")
    g.add_argument("--moe-dist", default="uniform",
                   help="MoE routing: uniform, random (with --seed) or comma-separated "
                        "per-expert weights")
    g.add_argument("--seed", type=int, default=0, help="seed of random MoE routing")
    g.add_argument("--no-ctx-check", action="store_true",
                   help="allow contexts beyond the model's max_position_embeddings")


def add_run_args(p: argparse.ArgumentParser) -> None:
    """Model-zoo and serving options of ``accelsim run``."""
    add_model_args(p)
    s = p.add_argument_group("serving (--requests)")
    s.add_argument("--requests", metavar="CSV",
                   help="run a request trace (arrival_s,prompt_tokens,output_tokens) through "
                        "continuous batching; WORKLOAD is then the model")
    s.add_argument("--max-batch", type=int, default=64, help="max running requests (default 64)")
    s.add_argument("--max-prefill-tokens", type=int, default=None,
                   help="prompt tokens admitted per iteration (default: no limit)")
    s.add_argument("--ctx-bucket", type=int, default=64,
                   help="decode context rounding for cost memoisation (default 64)")
    s.add_argument("--prompt-bucket", type=int, default=16,
                   help="prompt length rounding for cost memoisation (default 16)")
    s.add_argument("--kv-capacity", default=None, metavar="auto|TOKENS",
                   help="KV-cache capacity per device in tokens, or 'auto' (memory capacity "
                        "minus weights); requests beyond it wait or are preempted (vLLM "
                        "recompute); default: unlimited")
    s.add_argument("--chunk-tokens", type=int, default=None,
                   help="chunked prefill: tokens per iteration (decodes first); default: "
                        "whole prompts")
    b = p.add_argument_group("serving bounds (a trace that must pass one is refused up front; "
                             "default: the ACCELSIM_SERVING_MAX_* environment variable, else "
                             "the built-in bound)")
    b.add_argument("--max-iterations", type=_bound_arg, default=None, metavar="N",
                   help="scheduler iterations (default 4,194,304)")
    b.add_argument("--max-simulated", type=_bound_arg, default=None, metavar="N",
                   help="distinct bucketed iterations simulated (default 32,768)")
    b.add_argument("--max-tokens", type=_bound_arg, default=None, metavar="N",
                   help="generated tokens of the trace (default 134,217,728)")


def _bound_arg(text: str) -> int:
    """A serving bound from the command line: a whole number >= 1 (``_`` separators allowed),
    at most ``MAX_BOUND_ARG``; anything else is an argparse error naming the option."""
    digits = text.strip().replace("_", "")
    if not digits.isascii() or not digits.isdigit() or int(digits) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    if len(digits) > 19 or int(digits) > MAX_BOUND_ARG:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_BOUND_ARG:,} (2^62), got "
                                         f"{text!r}")
    return int(digits)


#: the largest serving bound accepted on the command line (any real run stops far below it)
MAX_BOUND_ARG = 2 ** 62


def _moe_dist(spec: str) -> "str | tuple[float, ...]":
    if spec in ("uniform", "random"):
        return spec
    try:
        return tuple(float(x) for x in spec.split(","))
    except ValueError:
        raise AccelsimError(f"--moe-dist must be uniform, random or comma-separated weights, "
                            f"got {spec!r}") from None


def quant_kwargs(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """Quantisation keyword arguments from CLI options (None: the model's native choice)."""
    native = native_quant(model)
    return dict(weight_bits=native["weight_bits"] if args.weight_bits is None else args.weight_bits,
                act_dtype=args.act_dtype or native["act_dtype"], kv_bits=args.kv_bits,
                group_size=args.group_size, moe_dist=_moe_dist(args.moe_dist))


def trace_kwargs(args: argparse.Namespace, model: str) -> dict[str, Any]:
    """``build_trace`` keyword arguments from CLI options."""
    return dict(phase=args.phase, batch=args.batch, ctx=args.ctx, prompt=args.prompt,
                seed=args.seed, check_ctx=not args.no_ctx_check, **quant_kwargs(args, model))


def add_commands(sub: argparse._SubParsersAction) -> dict[str, Handler]:
    w = sub.add_parser("workload", help="the model zoo: list models, show a model's op trace, "
                                        "make request traces")
    wsub = w.add_subparsers(dest="workload_cmd", required=True)
    wsub.add_parser("list", help="zoo models with their shapes and parameter counts")
    show = wsub.add_parser("show", help="the op table of one prefill pass or decode step")
    show.add_argument("model", help="zoo name or path to a Hugging Face config.json")
    add_model_args(show)
    show.add_argument("--save", metavar="FILE", help="also write the trace (.yaml or .json)")
    show.add_argument("--json", action="store_true", help="print the trace as JSON instead")
    rq = wsub.add_parser("requests", help="write a synthetic request trace (CSV)")
    rq.add_argument("-o", "--output", required=True, metavar="CSV")
    rq.add_argument("-n", type=int, default=100, help="number of requests (default 100)")
    rq.add_argument("--dist", default="sharegpt",
                    help="sharegpt, alpaca, sharegpt-neupims, alpaca-neupims, fixed:P,O or "
                         "normal:PMEAN,PSTD,OMEAN,OSTD (default sharegpt)")
    rq.add_argument("--rate", type=float, default=None,
                    help="Poisson arrivals per second (default: all at t=0)")
    rq.add_argument("--seed", type=int, default=0)
    rq.add_argument("--max-prompt", type=int, default=1024)
    rq.add_argument("--max-total", type=int, default=2048)

    t = sub.add_parser("trace", help="trace a Hugging Face model on the meta device into the op "
                                     "IR (needs the [trace] extra)")
    t.add_argument("--hf-config", required=True, metavar="PATH",
                   help="a config.json (or a zoo name)")
    add_model_args(t)
    t.add_argument("--layers", type=int, default=None,
                   help="trace only this many decoder layers and repeat them (faster)")
    t.add_argument("-o", "--output", metavar="FILE", help="write the trace (.yaml or .json)")
    t.add_argument("--compare", action="store_true",
                   help="also build the same workload with the zoo builder and compare FLOPs")
    return {"workload": cmd_workload, "trace": cmd_trace}


def cmd_workload(args: argparse.Namespace, console: Console) -> int:
    if args.workload_cmd == "list":
        _print_models(console)
        return 0
    if args.workload_cmd == "requests":
        from .requests import parse_dist, save_requests, synth_requests
        reqs = synth_requests(args.n, args.dist, rate=args.rate, seed=args.seed,
                              max_prompt=args.max_prompt, max_total=args.max_total)
        save_requests(reqs, args.output)
        p = [r.prompt_tokens for r in reqs]
        o = [r.output_tokens for r in reqs]
        console.print(f"wrote {len(reqs)} requests to {args.output}: prompt mean "
                      f"{sum(p) / len(p):.1f} (max {max(p)}), output mean {sum(o) / len(o):.1f} "
                      f"(max {max(o)}); lengths: {parse_dist(args.dist)[2]}")
        return 0
    from .zoo import build_trace
    trace = build_trace(args.model, **trace_kwargs(args, args.model))
    if args.save:
        save_trace(trace, args.save)
    if args.json:
        print(json.dumps(trace.to_dict(), indent=1))
        return 0
    print_trace(trace, console, params=param_count(load_model(args.model)))
    if args.save:
        console.print(f"trace written to {args.save}")
    return 0


def cmd_trace(args: argparse.Namespace, console: Console) -> int:
    from .torch_trace import trace_model
    q = quant_kwargs(args, args.hf_config)
    q.pop("moe_dist")
    trace = trace_model(args.hf_config, phase=args.phase, batch=args.batch, ctx=args.ctx,
                        prompt=args.prompt, layers=args.layers, **q)
    if args.output:
        save_trace(trace, args.output)
    print_trace(trace, console)
    if args.compare:
        from .zoo import build_trace
        built = build_trace(args.hf_config, **trace_kwargs(args, args.hf_config))
        rel = (trace.flops() - built.flops()) / built.flops()
        console.print(f"FLOPs traced {trace.flops():.6g} vs built {built.flops():.6g}: "
                      f"{rel:+.3%}")
    if args.output:
        console.print(f"trace written to {args.output}")
    return 0


def _print_models(console: Console) -> None:
    from ..report.tables import si
    t = Table(title=f"Model zoo ({models_dir()}; sources in its README.md)", title_justify="left")
    for col in ("model", "family", "params", "layers", "hidden", "heads/kv", "ffn", "experts",
                "vocab", "max ctx", "native W/A"):
        t.add_column(col, justify="left" if col in ("model", "family") else "right")
    for name in list_models():
        c = load_model(name)
        experts = f"{c.experts} (top-{c.top_k})" if c.is_moe else "-"
        t.add_row(name, c.family, si(param_count(c)), str(c.layers), str(c.hidden),
                  f"{c.heads}/{c.kv_heads}", str(c.ffn), experts, str(c.vocab), str(c.max_pos),
                  f"{c.native_weight_bits:g}/{c.native_act_dtype}")
    console.print(t)


def _shape(op) -> str:
    s = op.shape()
    if op.kind == "gemm":
        b = f"{s['batch']}x " if s["batch"] > 1 else ""
        return (f"{b}{s['m']}x{s['n']}x{s['k']} {s['dtype']}*{s['w_dtype'] or s['dtype']}"
                + (f" g{s['group_size']}" if s["group_size"] else ""))
    if op.kind == "attention":
        return (f"b{s['batch']} h{s['heads']}/{s['kv_heads'] or s['heads']} q{s['q_len']} "
                f"kv{s['kv_len']} d{s['head_dim']} kv:{s['kv_dtype'] or s['dtype']}")
    return f"{s['op']} {s['rows']}x{s['cols']} {s['dtype']}"


def print_trace(trace: Trace, console: Console, params: int | None = None) -> None:
    """The op table of a trace: shape, FLOPs, bytes and arithmetic intensity per op."""
    from ..report.tables import si
    t = Table(title=trace.name, title_justify="left")
    for col in ("segment", "op", "kind", "shape", "FLOPs", "bytes", "FLOP/B"):
        t.add_column(col, justify="right" if col in ("FLOPs", "bytes", "FLOP/B") else "left")
    for seg, op in trace.iter_ops():
        seg_label = f"{seg.name} x{seg.repeat}" if seg.repeat > 1 else seg.name
        t.add_row(seg_label, op.name, op.kind, _shape(op), si(op.flops()), si(op.total_bytes(), "B"),
                  f"{op.intensity():.3g}")
    console.print(t)
    meta = dict(trace.meta)
    tokens = int(meta.get("tokens", 0) or 0)
    lines = [f"total: {si(trace.flops(), 'FLOP')}, {si(trace.total_bytes(), 'B')} compulsory operand "
             f"traffic, {trace.flops() / max(trace.total_bytes(), 1):.3g} FLOP/B, "
             f"{trace.num_ops():,} ops"]
    if tokens:
        lines.append(f"per token ({tokens} tokens): {si(trace.flops() / tokens, 'FLOP')}, "
                     f"{si(trace.total_bytes() / tokens, 'B')}")
    if params:
        lines.append(f"parameters: {si(params)} ({params:,})")
    if "quant" in meta:
        lines.append(f"dtypes: {meta['quant']}")
    console.print("\n".join(lines), markup=False)


def run_serving(args: argparse.Namespace, console: Console, arch) -> int:
    """``accelsim run ARCH MODEL --requests FILE``: simulate a request trace and print metrics."""
    from .requests import load_requests
    from .serving import simulate_serving
    from .zoo import is_model_ref
    if not is_model_ref(args.workload):
        raise AccelsimError(f"--requests needs a model as WORKLOAD (a zoo name or a config.json), "
                            f"got the trace file {args.workload!r}")
    reqs = load_requests(args.requests)
    res = simulate_serving(arch, args.workload, reqs, max_batch=args.max_batch,
                           max_prefill_tokens=args.max_prefill_tokens, fidelity=args.fidelity,
                           ctx_bucket=args.ctx_bucket, prompt_bucket=args.prompt_bucket,
                           check_ctx=not args.no_ctx_check,
                           kv_capacity_tokens=_kv_capacity_arg(args.kv_capacity),
                           chunk_tokens=args.chunk_tokens, max_iterations=args.max_iterations,
                           max_simulated=args.max_simulated, max_tokens=args.max_tokens,
                           **quant_kwargs(args, args.workload))
    summary = res.summary()
    if args.json:
        text = json.dumps(summary, indent=1)
        if args.json == "-":
            print(text)
            return 0
        Path(args.json).write_text(text + "\n")
    if not args.quiet:
        print_serving(summary, console)
    return 0


def check_serving_options(args: argparse.Namespace) -> None:
    """The serving bounds apply to ``--requests`` runs only: given without it, one error
    (rather than a bound silently ignored)."""
    if getattr(args, "requests", None):
        return
    given = [f"--{k.replace('_', '-')}" for k in ("max_iterations", "max_simulated", "max_tokens")
             if getattr(args, k, None) is not None]
    if given:
        raise AccelsimError(f"{', '.join(given)} bound{'' if len(given) > 1 else 's'} a "
                            f"serving run: give the request trace with --requests CSV")


def _kv_capacity_arg(value: str | None) -> "int | str | None":
    if value is None or value == "auto":
        return value
    try:
        return int(value)
    except ValueError:
        raise AccelsimError(f"--kv-capacity: 'auto' or a number of tokens, got {value!r}") \
            from None


def print_serving(s: dict[str, Any], console: Console) -> None:
    """Serving metrics as a table."""
    from ..report.tables import si
    t = Table(title=f"serving {s['model']} on {s['arch']}: {s['requests']} requests",
              show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    t.add_row("throughput (generated tokens/s)", f"{s['throughput_tok_s']:.4g}")
    t.add_row("throughput (prompt + generated tokens/s)", f"{s['total_tok_s']:.4g}")
    t.add_row("makespan", si(s["makespan_s"], "s"))
    for key, label in (("ttft", "time to first token"), ("tbt", "time between tokens"),
                       ("e2e", "end-to-end latency")):
        vals = [s[f"{key}_p{p}_s"] for p in (50, 90, 99)]
        t.add_row(f"{label} p50 / p90 / p99",
                  " / ".join("-" if v is None else si(v, "s") for v in vals))
    t.add_row("iterations (distinct simulated)", f"{s['iterations']:,} ({s['simulated_iterations']:,})")
    t.add_row("mean running requests", f"{s['mean_batch']:.1f}")
    st = s.get("settings", {})
    if st.get("kv_capacity_tokens") is not None:
        t.add_row("KV capacity / peak (tokens)",
                  f"{st['kv_capacity_tokens']:,} / {st['kv_peak_tokens']:,}")
        t.add_row("preemptions", f"{st['preemptions']:,}")
    console.print(t)
