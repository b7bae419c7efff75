"""The measured-cases CSV: one row per case, ``kind`` + shape columns + ``measured_us``.

| kind | columns |
|---|---|
| gemm | m, n, k, dtype, w_dtype (default dtype), group_size, batch (default 1) |
| attention | batch, heads, kv_heads (default heads), q_len, kv_len, head_dim, causal, dtype |
| vector | name (add, mul, silu, gelu, relu, copy, softmax, layernorm, rmsnorm, rope), m (rows), n (cols), dtype |
| moe_ffn | experts, tokens_per_expert (one count for every expert, or E counts joined by ';'), hidden, ffn, dtype, moe_kernel (loop, the default when blank: each expert's gate+up GEMM, SiLU, multiply, down GEMM; grouped: one grouped GEMM for all gate+up, one SiLU and one multiply over all rows, one grouped GEMM for all down) |
| model | model (a zoo name), phase (decode or prefill), batch, ctx (decode) or prompt (prefill), layers_only (true: no embedding and LM head) |

Other columns (name, timing, notes, ...) are kept and ignored. Every problem is one error naming
the file, the row (as a spreadsheet counts it, header = 1) and the column.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AccelsimError, ConfigError
from ..workload import Attention, Gemm, GroupedGemm, Segment, Trace, Vector
from ..workload.ops import VECTOR_KINDS

KINDS = ("gemm", "attention", "vector", "moe_ffn", "model")
_MAX_ROWS = 1_000_000


@dataclass(frozen=True)
class Case:
    """One measured case: where it came from, its kind, its fields and the measured time."""

    file: str
    row: int
    kind: str
    fields: dict[str, str]
    measured_us: float
    trace: Trace = field(compare=False, repr=False)

    @property
    def label(self) -> str:
        f = self.fields
        keys = {"gemm": ("name", "m", "n", "k", "dtype", "w_dtype"),
                "attention": ("name", "batch", "heads", "kv_heads", "q_len", "kv_len"),
                "vector": ("name", "m", "n"), "moe_ffn": ("name", "moe_kernel", "tokens_per_expert"),
                "model": ("model", "phase", "batch", "ctx", "prompt", "layers_only")}[self.kind]
        return " ".join(f"{k}={f[k]}" for k in keys if f.get(k))


def read_cases(path: str | Path) -> list[Case]:
    """Every row of ``path`` as a ``Case`` (its workload built); ConfigError on bad input."""
    file = str(path)
    from ..config.files import read_text  # a regular UTF-8 file of bounded size, or ConfigError
    text = read_text(file, what="a CSV file of measured cases")
    rows = list(csv.DictReader(text.splitlines()))
    if not rows:
        raise ConfigError("no rows (a header line and one row per measured case)", file=file)
    if len(rows) > _MAX_ROWS:
        raise ConfigError(f"more than {_MAX_ROWS:,} rows", file=file)
    for col in ("kind", "measured_us"):
        if col not in rows[0]:
            raise ConfigError(f"missing column {col!r}; columns: {', '.join(rows[0])}", file=file)
    return [_case(file, i + 2, r) for i, r in enumerate(rows)]


def _case(file: str, line: int, r: dict[str, Any]) -> Case:
    def fail(col: str, msg: str) -> ConfigError:
        return ConfigError(msg, file=file, line=line, key_path=col)

    f = {k: (v or "").strip() for k, v in r.items() if k is not None}
    kind = f.get("kind", "")
    if kind not in KINDS:
        from ..config import suggest
        raise fail("kind", f"unknown kind {kind!r}{suggest(kind, KINDS)}; kinds: {', '.join(KINDS)}")

    def num(col: str, default: Any = None, cast: Any = int) -> Any:
        v = f.get(col, "")
        if v == "":
            if default is None:
                raise fail(col, f"a {kind} row needs {col!r}")
            return default
        try:
            x = cast(float(v)) if cast is int else cast(v)
        except (ValueError, OverflowError):  # OverflowError: int('inf')
            raise fail(col, f"not a number: {v!r}") from None
        if cast is int and (float(v) != int(float(v)) or int(float(v)) <= 0):
            raise fail(col, f"must be a positive integer, got {v!r}")
        return x

    measured = num("measured_us", cast=float)
    if not (measured > 0 and measured < 1e12):
        raise fail("measured_us", f"must be a positive time in microseconds, got {f['measured_us']!r}")
    try:
        trace = _trace(kind, f, num, fail)
    except (AccelsimError, ValueError) as e:
        if isinstance(e, ConfigError) and e.line is not None:
            raise
        text = str(e).split(": ", 1)[-1]  # after "op 'name': "
        raise fail(next((c for c in f if c and f" {c} " in f" {text} "), kind), str(e)) from None
    return Case(file, line, kind, f, measured, trace)


def _trace(kind: str, f: dict[str, str], num: Any, fail: Any) -> Trace:
    dt = f.get("dtype") or "bf16"
    name = f.get("name") or kind
    if kind == "gemm":
        gs = num("group_size", 0) or None
        op = Gemm(name, m=num("m"), n=num("n"), k=num("k"), batch=num("batch", 1), dtype=dt,
                  w_dtype=f.get("w_dtype") or None, group_size=gs, b_shared=True)
        return Trace.from_ops(name, [op])
    if kind == "attention":
        causal = {"true": True, "false": False, "": None}.get(f.get("causal", "").lower())
        if causal is None and f.get("causal"):
            raise ValueError(f"causal must be true or false, got {f['causal']!r}")
        op = Attention(name, batch=num("batch"), heads=num("heads"),
                       kv_heads=num("kv_heads", num("heads")), q_len=num("q_len"),
                       kv_len=num("kv_len"), head_dim=num("head_dim"), dtype=dt, causal=causal)
        return Trace.from_ops(name, [op])
    if kind == "vector":
        if name not in VECTOR_KINDS:
            raise ValueError(f"name must be a vector op ({', '.join(VECTOR_KINDS)}), got {name!r}")
        return Trace.from_ops(name, [Vector(name, op=name, rows=num("m"), cols=num("n"),
                                            dtype=dt)])
    if kind == "moe_ffn":
        e, hid, ffn = num("experts"), num("hidden"), num("ffn")
        counts = _expert_counts(f.get("tokens_per_expert") or "", e, fail)
        how = (f.get("moe_kernel") or "loop").strip()
        if how == "grouped":
            rows = sum(counts)
            return Trace.from_ops(name, [
                GroupedGemm("gate_up", groups=counts, n=2 * ffn, k=hid, dtype=dt, b_shared=True),
                Vector("silu", op="silu", rows=rows, cols=ffn, dtype=dt),
                Vector("mul", op="mul", rows=rows, cols=ffn, dtype=dt),
                GroupedGemm("down", groups=counts, n=hid, k=ffn, dtype=dt, b_shared=True)])
        if how != "loop":
            raise fail("moe_kernel", f"must be loop or grouped, got {how!r}")
        ops = []
        for i, t in enumerate(counts):
            ops += [Gemm(f"e{i}.gate_up", m=t, n=2 * ffn, k=hid, dtype=dt, b_shared=True),
                    Vector(f"e{i}.silu", op="silu", rows=t, cols=ffn, dtype=dt),
                    Vector(f"e{i}.mul", op="mul", rows=t, cols=ffn, dtype=dt),
                    Gemm(f"e{i}.down", m=t, n=hid, k=ffn, dtype=dt, b_shared=True)]
        return Trace.from_ops(name, ops)
    from ..workload import zoo
    phase = f.get("phase") or "decode"
    kw = {"ctx": num("ctx")} if phase == "decode" else {"prompt": num("prompt")}
    tr = zoo.build_trace(f.get("model") or "", phase=phase, batch=num("batch"), act_dtype=dt,
                         **kw)
    if f.get("layers_only", "").lower() == "true":
        tr = Trace(tr.name, tuple(s for s in tr.segments if s.name not in ("embed", "head")),
                   tr.meta)
    return tr


def _expert_counts(text: str, experts: int, fail) -> tuple[int, ...]:
    """Rows per expert that has any: one count for all ``experts``, or ``experts`` counts
    joined by ';' (zeros allowed: those experts are skipped)."""
    parts = [p.strip() for p in text.split(";")]
    try:
        counts = [int(p) for p in parts]
    except ValueError:
        raise fail("tokens_per_expert", f"must be an integer, or {experts} integers joined by "
                   f"';', got {text!r}") from None
    if len(counts) == 1:
        counts *= experts
    if len(counts) != experts or any(c < 0 for c in counts) or not any(counts):
        raise fail("tokens_per_expert", f"needs one count or {experts} (experts) non-negative "
                   f"counts with at least one above 0, got {text!r}")
    return tuple(c for c in counts if c)
