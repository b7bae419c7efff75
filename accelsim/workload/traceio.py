"""Trace file I/O: YAML/JSON trace files and plain GEMM lists (incl. SCALE-Sim topology CSVs).

YAML/JSON form (``ops`` alone is one segment run once)::

    name: my_workload
    segments:
      - name: layer
        repeat: 32
        ops:
          - {name: qkv, kind: gemm, m: 16, n: 12288, k: 4096, dtype: bf16}
          - {name: attn, kind: attention, batch: 16, heads: 32, q_len: 1, kv_len: 2048, head_dim: 128}

An op without ``deps`` depends on the op before it; ``deps: []`` makes it independent.
"""
from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
from pathlib import Path

import yaml

from ..config import SourceDoc, load_yaml, suggest
from ..config.files import MAX_INPUT_BYTES, read_bytes, read_text
from ..config.jsonfast import load_json_doc
from ..errors import AccelsimError, ConfigError
from .dtypes import dtype
from .ops import OP_KINDS, Gemm, Op
from .trace import Segment, Trace


def load_trace(path: str | Path, *, csv_dtype: str = "int8") -> Trace:
    """Load a trace from .yaml/.yml/.json, or a GEMM list from .csv (dtype ``csv_dtype``)."""
    p = Path(path)
    if not p.exists():
        raise ConfigError("file not found", file=str(path))
    if p.suffix.lower() == ".csv":
        return load_gemm_csv(p, dtype=csv_dtype)
    if p.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ConfigError("unknown trace format; use .yaml, .yml, .json or .csv", file=str(path))
    doc = _load_doc(p)
    if isinstance(doc.data, dict) and "model_type" in doc.data and "ops" not in doc.data \
            and "segments" not in doc.data:
        raise ConfigError("is a Hugging Face model config, not a trace: build it with "
                          "accelsim.load_workload(path, phase=..., batch=...) (or give it to "
                          "accelsim run as the workload)", file=str(path))
    return trace_from_doc(doc)


def _load_doc(p: Path) -> SourceDoc:
    """The trace file as a document: a .json file by the C JSON parser when that reads it as
    ``load_yaml`` would (``accelsim.config.jsonfast``: 0.5 s instead of ~1 min for 10^5 ops,
    lines still found for errors), else by ``load_yaml``."""
    if p.suffix.lower() == ".json":
        raw = read_bytes(p, max_bytes=MAX_INPUT_BYTES, what="a YAML or JSON file")
        doc = load_json_doc(raw, str(p))
        if doc is not None:
            return doc
    return load_yaml(p, max_bytes=MAX_INPUT_BYTES)


def trace_from_doc(doc: SourceDoc) -> Trace:
    """Build a trace from a loaded document, locating every error by key path and line."""
    data = doc.data

    def fail(path: tuple, msg: str) -> ConfigError:
        file, line = doc.origin(path)
        return ConfigError(msg, file=file or doc.file, line=line,
                           key_path=".".join(str(x) for x in path) or None)

    allowed_top = {"name", "meta", "segments", "ops"}
    for key in data:
        if key not in allowed_top:
            raise fail((key,), f"unknown key {key!r}{suggest(key, allowed_top)}")
    if ("segments" in data) == ("ops" in data):
        raise fail((), "a trace needs exactly one of 'segments' or 'ops'")
    name = _scalar_text(data.get("name"), ("name",), fail) or Path(doc.file).stem
    seg_specs = data["segments"] if "segments" in data else [{"name": name, "ops": data["ops"]}]
    seg_root: tuple = ("segments",) if "segments" in data else ()
    if not isinstance(seg_specs, list):
        raise fail(seg_root, "must be a list")
    segments = []
    for i, spec in enumerate(seg_specs):
        spath = seg_root + (i,) if seg_root else ()
        if not isinstance(spec, dict):
            raise fail(spath, "a segment must be a mapping with 'name', 'ops' and optional 'repeat'")
        for key in spec:
            if key not in ("name", "ops", "repeat"):
                raise fail(spath + (key,), f"unknown key {key!r}{suggest(key, ['name', 'ops', 'repeat'])}")
        ops_spec = spec.get("ops")
        if not isinstance(ops_spec, list) or not ops_spec:
            raise fail(spath + ("ops",), "must be a non-empty list of ops")
        ops = [_op_from_dict(o, spath + ("ops", j), fail) for j, o in enumerate(ops_spec)]
        seen: set[str] = set()
        for j, op in enumerate(ops):
            if op.name in seen:
                raise fail(spath + ("ops", j, "name"), f"duplicate op name {op.name!r}")
            for d in op.deps or ():
                if d not in seen:
                    raise fail(spath + ("ops", j, "deps"),
                               f"op {op.name!r} depends on {d!r}, which is not an earlier op")
            seen.add(op.name)
        repeat = spec.get("repeat", 1)
        if isinstance(repeat, bool) or not isinstance(repeat, int):
            raise fail(spath + ("repeat",), f"repeat must be a positive integer, got "
                       f"{_shown(repeat)}")
        seg_name = _scalar_text(spec.get("name"), spath + ("name",), fail) or f"segment{i}"
        try:
            segments.append(Segment(seg_name, tuple(ops), repeat))
        except AccelsimError as e:
            raise fail(spath, str(e)) from None
    meta = _pairs(data.get("meta"), ("meta",), fail)
    trace = Trace(name, tuple(segments), meta)
    try:
        trace.check_size()
    except AccelsimError as e:
        raise fail(("segments",) if "segments" in data else ("ops",), str(e)) from None
    return trace


def _shown(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _scalar_text(value: object, path: tuple, fail) -> str | None:
    """A name written as text (or a number); None if absent; ConfigError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail(path, f"must be a name (text), got {_kind(value)}")
    return str(value)


def _pairs(value: object, path: tuple, fail) -> tuple[tuple[str, str], ...]:
    """``meta`` / ``tags``: a mapping of names to scalar values, as (str, str) pairs."""
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise fail(path, f"must be a mapping of name: value pairs, got {_kind(value)}")
    out = []
    for k, v in value.items():
        if isinstance(v, (dict, list)):
            raise fail(path + (k,), f"must be a single value (text or a number), got {_kind(v)}")
        out.append((str(k), str(v)))
    return tuple(out)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"{type(value).__name__} {_shown(value)}"


#: field annotations of the op dataclasses that ``_field_problem`` checks, and what they accept
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "int": ((int,), "an integer"), "float": ((int, float), "a number"),
    "str": ((str,), "text"), "bool": ((bool,), "true or false"), "None": ((type(None),), "null"),
}


@functools.lru_cache(maxsize=None)
def _field_check(annotation: str) -> tuple[tuple[type, ...], bool, str] | None:
    """For an op field annotation (e.g. ``'int | None'``): the accepted types, whether a bool
    is accepted, and the words for what is wanted; None for annotations this check does not
    cover (which the op checks itself). Cached: a 10^5-op trace has a handful of annotations."""
    alts = [a.strip() for a in annotation.split("|")]
    if not all(a in _FIELD_TYPES for a in alts):
        return None
    accepted = tuple(t for a in alts for t in _FIELD_TYPES[a][0])
    words = [_FIELD_TYPES[a][1] for a in alts]
    wanted = " or ".join(words) if len(words) < 3 else ", ".join(words[:-1]) + " or " + words[-1]
    return accepted, "bool" in alts, wanted


def _field_problem(value: object, annotation: object) -> str | None:
    """Why ``value`` does not fit an op field of type ``annotation`` (e.g. ``'int | None'``),
    or None (also for annotations this check does not cover, which the op checks itself)."""
    check = _field_check(str(annotation))
    if check is None:
        return None
    accepted, bool_ok, wanted = check
    if isinstance(value, accepted) and (bool_ok or not isinstance(value, bool)):
        return None
    return f"must be {wanted}, got {_kind(value)}"


@functools.lru_cache(maxsize=None)
def _op_fields(cls: type) -> dict[str, str]:
    """Field name -> annotation text of an op class (cached: looked up once per op)."""
    return {f.name: str(f.type) for f in dataclasses.fields(cls)}


def _dtype_problem(value: object) -> str | None:
    """The error text of ``dtype(value)``, or None (cached for text: traces repeat a few)."""
    return _dtype_text_problem(value) if isinstance(value, str) else _dtype_error(value)


@functools.lru_cache(maxsize=4096)
def _dtype_text_problem(value: str) -> str | None:
    return _dtype_error(value)


def _dtype_error(value: object) -> str | None:
    try:
        dtype(value)
    except AccelsimError as e:
        return str(e)
    return None


def _op_from_dict(spec: object, path: tuple, fail) -> Op:
    if not isinstance(spec, dict):
        raise fail(path, "an op must be a mapping with at least 'name' and 'kind'")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in OP_KINDS:
        raise fail(path + ("kind",), f"unknown op kind {kind!r}{suggest(str(kind), OP_KINDS)}; "
                   f"known kinds: {', '.join(OP_KINDS)}")
    cls = OP_KINDS[kind]
    types = names = _op_fields(cls)
    kwargs = {}
    for key, value in spec.items():
        if key == "kind":
            continue
        if key not in names:
            raise fail(path + (key,), f"unknown key {key!r} for a {kind} op{suggest(key, names)}")
        if key == "name":
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                raise fail(path + (key,), f"must be a name (text), got {_kind(value)}")
            value = str(value)
        elif key == "deps":
            items = value if isinstance(value, list) else [value]
            bad = next((d for d in items if isinstance(d, bool) or not isinstance(d, (str, int))),
                       items)
            if bad is not items:
                got = f"an item that is {_kind(bad)}" if bad is not value else _kind(bad)
                raise fail(path + (key,), f"must be a list of earlier op names, got {got}")
            value = tuple(str(d) for d in items)
        elif key == "tags":
            value = _pairs(value, path + (key,), fail)
        elif (problem := _field_problem(value, types[key])) is not None:
            raise fail(path + (key,), problem)
        elif key.endswith("dtype") and value is not None \
                and (problem := _dtype_problem(value)) is not None:
            raise fail(path + (key,), problem)
        kwargs[key] = value
    if "name" not in kwargs:
        raise fail(path, "missing required key 'name'")
    try:
        return cls(**kwargs)
    except AccelsimError as e:
        text = str(e).split(": ", 1)[-1]  # after "op 'name': " (a vector op has a key 'op')
        bad = next((k for k in kwargs if f" {k} " in f" {text} "), None)
        raise fail(path + ((bad,) if bad else ()), str(e)) from None
    except (TypeError, ValueError, OverflowError) as e:  # a value of the wrong kind
        raise fail(path, f"not a valid {kind} op: {e}") from None


def load_gemm_csv(path: str | Path, *, dtype: str = "int8") -> Trace:
    """Read ``name, M, N, K`` rows (SCALE-Sim's GEMM topology format; header optional,
    trailing commas allowed, ``#`` starts a comment, a fifth dense ``N:M`` sparsity ratio
    ignored, a repeated name gets a ``_2``, ``_3``... suffix). Rows run one after another; all
    operands use ``dtype`` (SCALE-Sim uses 1-byte words, hence the int8 default).

    A SCALE-Sim convolution topology (header ``Layer name, IFMAP Height, ...``, or rows of seven
    numbers) is read as convolutions lowered to GEMMs (``accelsim.workload.scalesim``)."""
    from .scalesim import conv_trace, dense_ratio, is_conv_header, looks_like_conv_row, unique
    p = Path(path)
    ops: list[Op] = []
    used: set[str] = set()
    text = read_text(p, what="a CSV of name, M, N, K rows")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise ConfigError(f"not a readable CSV: {e}", file=str(path)) from None
    data: list[tuple[int, list[str]]] = []
    for lineno, row in enumerate(rows, start=1):
        cells = [c.strip() for c in row]
        hashes = [i for i, c in enumerate(cells) if c.startswith("#")]
        if hashes:  # a comment: the whole row, or from that cell on
            cells = cells[:hashes[0]]
        while cells and cells[-1] == "":
            cells.pop()
        if cells:
            data.append((lineno, cells))
    if data and is_conv_header(data[0][1]):
        return conv_trace(data[1:], str(path), dtype=dtype, name=p.stem)
    if data and looks_like_conv_row(data[0][1]):
        return conv_trace(data, str(path), dtype=dtype, name=p.stem)
    for i, (lineno, cells) in enumerate(data):
        if len(cells) < 4:
            raise ConfigError(f"expected 'name, M, N, K', got {','.join(cells)!r}",
                              file=str(path), line=lineno)
        try:
            m, n, k = (int(c) for c in cells[1:4])
        except ValueError:
            if i == 0:
                continue  # header row
            raise ConfigError(f"M, N, K must be integers, got {cells[1:4]}",
                              file=str(path), line=lineno) from None
        if len(cells) > 5 or (len(cells) == 5 and not dense_ratio(cells[4], str(path), lineno)):
            raise ConfigError(f"expected 'name, M, N, K' (and optionally SCALE-Sim's N:M "
                              f"sparsity ratio), got {len(cells)} columns", file=str(path),
                              line=lineno)
        try:
            name = unique(cells[0] or f"gemm{len(ops)}", used)  # SCALE-Sim allows repeats
            ops.append(Gemm(name, m=m, n=n, k=k, dtype=dtype))
        except AccelsimError as e:
            raise ConfigError(str(e), file=str(path), line=lineno) from None
    if not ops:
        raise ConfigError("no GEMM rows found", file=str(path))
    return Trace.from_ops(p.stem, ops)


def save_trace(trace: Trace, path: str | Path) -> None:
    """Write a trace as YAML or JSON (by extension); ``load_trace`` reads it back equal."""
    p = Path(path)
    d = trace.to_dict()
    if p.suffix.lower() == ".json":
        p.write_text(json.dumps(d, indent=1) + "\n")
    else:
        p.write_text(yaml.safe_dump(d, sort_keys=False))
