"""The model zoo's public API: list the models and build traces of prefill, decode or mixed passes.

    from accelsim.workload.zoo import build_trace, list_models
    trace = build_trace("llama2-7b", phase="decode", batch=16, ctx=2048, weight_bits=4,
                        group_size=128)

``model`` is a zoo name (``list_models()``) or a path to a Hugging Face ``config.json`` of a
supported family. Traces are memoised on their arguments (they are immutable), so a sweep that
rebuilds the same point pays once.
"""
from __future__ import annotations

import functools
from pathlib import Path
from typing import Sequence

from ..config.bounds import MAX_BATCH, MAX_TOKENS
from ..errors import AccelsimError
from .llm import Batch, build_model_trace, check_positive_int
from .models import ModelConfig, list_models, load_model, param_count
from .quant import Quant, make_quant
from .trace import Trace

__all__ = ["Batch", "ModelConfig", "build_iteration", "build_trace", "is_model_ref",
           "list_models", "load_model", "load_workload", "native_quant", "param_count"]

PHASES = ("decode", "prefill")


def build_trace(model: str, *, phase: str = "decode", batch: int = 1, ctx: int = 2048,
                prompt: int = 512, weight_bits: float | str = 16, act_dtype: str = "bf16",
                kv_bits: float | str = 16, group_size: int | None = None,
                moe_dist: "str | Sequence[float]" = "uniform", seed: int = 0,
                head_dtype: str | None = None, check_ctx: bool = True) -> Trace:
    """One prefill pass (``batch`` prompts of ``prompt`` tokens) or one decode step (``batch``
    requests at context ``ctx``, the new token included) of ``model``.

    ``moe_dist``: token-to-expert routing for MoE models ('uniform', 'random' with ``seed``, or
    per-expert weights; see ``accelsim.workload.moe``). ``check_ctx``: reject contexts beyond
    the model's ``max_position_embeddings``.
    """
    if phase not in PHASES:
        raise AccelsimError(f"unknown phase {phase!r}; choose one of {', '.join(PHASES)}")
    for what, v, bound in (("batch", batch, MAX_BATCH), ("ctx", ctx, MAX_TOKENS),
                           ("prompt", prompt, MAX_TOKENS)):
        check_positive_int(what, v, bound)
    cfg = load_model(model)
    length = ctx if phase == "decode" else prompt
    if check_ctx and length > cfg.max_pos:
        raise AccelsimError(f"{cfg.name}: {'ctx' if phase == 'decode' else 'prompt'} {length} "
                            f"exceeds the model's max_position_embeddings {cfg.max_pos}")
    quant = make_quant(weight_bits, act_dtype, kv_bits, group_size, head_dtype)
    b = Batch(decode=((ctx, batch),)) if phase == "decode" else Batch(prefill=(prompt,) * batch)
    dist = moe_dist if isinstance(moe_dist, str) else tuple(float(w) for w in moe_dist)
    extra = (("ctx", str(ctx)),) if phase == "decode" else (("prompt", str(prompt)),)
    name = f"{cfg.name}-{phase}-b{batch}-{'ctx' if phase == 'decode' else 'p'}{length}"
    return _cached(cfg, quant, b, dist, seed, name, extra)


def build_iteration(model: "str | ModelConfig", *, prefill: Sequence[int] = (),
                    decode: Sequence[tuple[int, int]] = (), weight_bits: float | str = 16,
                    act_dtype: str = "bf16", kv_bits: float | str = 16,
                    group_size: int | None = None, moe_dist: "str | Sequence[float]" = "uniform",
                    seed: int = 0, head_dtype: str | None = None) -> Trace:
    """A continuous-batching iteration: requests in prefill (their prompt lengths) together with
    decoding requests given as (kv_len, count) groups."""
    cfg = load_model(model)
    quant = make_quant(weight_bits, act_dtype, kv_bits, group_size, head_dtype)
    b = Batch(prefill=tuple(prefill), decode=tuple((int(k), int(n)) for k, n in decode))
    dist = moe_dist if isinstance(moe_dist, str) else tuple(float(w) for w in moe_dist)
    return _cached(cfg, quant, b, dist, seed, f"{cfg.name}-iter-{b.phase}-t{b.tokens}", ())


@functools.lru_cache(maxsize=1024)
def _cached(cfg: ModelConfig, quant: Quant, batch: Batch, dist: "str | tuple[float, ...]",
            seed: int, name: str, extra: tuple[tuple[str, str], ...]) -> Trace:
    return build_model_trace(cfg, quant, batch, moe_dist=dist, seed=seed, name=name, meta=extra)


def native_quant(model: "str | ModelConfig") -> dict[str, object]:
    """The weight bits and activation dtype a model was trained for (BitNet b1.58: 1.58 / int8;
    every other zoo model: 16 / bf16)."""
    cfg = load_model(model)
    return {"weight_bits": cfg.native_weight_bits, "act_dtype": cfg.native_act_dtype}


def load_workload(workload: "str | Path | Trace", *, csv_dtype: str = "int8",
                  **zoo_kwargs) -> Trace:
    """Any workload as a trace: a Trace (returned as is); a zoo model name, a Hugging Face
    ``config.json``, a model folder or an id in the local HF cache, built by ``build_trace``
    with ``zoo_kwargs`` (``phase``, ``batch``, ``ctx``, ``prompt``, ``weight_bits``...; the
    weight bits and activation dtype default to the model's own, as on the command line); or a
    trace file (.yaml, .yml, .json) or GEMM / SCALE-Sim topology list (.csv, ``csv_dtype``)."""
    if isinstance(workload, Trace):
        if zoo_kwargs:
            raise AccelsimError(f"model options ({', '.join(sorted(zoo_kwargs))}) apply to "
                                f"model workloads, not to a Trace")
        return workload
    if not isinstance(workload, (str, Path)):
        raise AccelsimError(f"a workload is a Trace, a zoo model name, a Hugging Face config "
                            f"or model id, or a trace file path; got {type(workload).__name__}")
    ref = str(workload)
    if is_model_ref(ref):
        import inspect
        allowed = set(inspect.signature(build_trace).parameters) - {"model"}
        bad = sorted(set(zoo_kwargs) - allowed)
        if bad:
            raise AccelsimError(f"unknown model option(s) {', '.join(map(repr, bad))}; "
                                f"accepted: {', '.join(sorted(allowed))}")
        kwargs = dict(zoo_kwargs)
        for key, value in native_quant(ref).items():
            if kwargs.get(key) is None:
                kwargs[key] = value
        return build_trace(ref, **kwargs)
    if zoo_kwargs:
        raise AccelsimError(f"model options ({', '.join(sorted(zoo_kwargs))}) apply to model "
                            f"workloads, not to the trace file {ref}")
    from .traceio import load_trace
    return load_trace(ref, csv_dtype=csv_dtype)


def is_model_ref(arg: str) -> bool:
    """Whether a CLI workload argument names a zoo model or a Hugging Face config.json.

    Existing .yaml/.yml/.csv files are traces; an existing .json is a model config when it has a
    ``model_type`` key; a folder is a model folder (its config.json); anything that is not a
    file and has no trace suffix is taken as a model name or Hugging Face id (so that an
    unknown name gets the list of available models and where it was looked for)."""
    p = Path(arg)
    suffix = p.suffix.lower()
    if arg in list_models() or p.is_dir():
        return True
    if p.is_file():
        if suffix != ".json":
            return False
        import json
        from ..config.files import read_bytes
        from ..errors import ConfigError
        try:
            data = json.loads(read_bytes(p))
        except (ConfigError, ValueError, RecursionError):
            return False  # loaded as a trace, which reports the problem
        return isinstance(data, dict) and "model_type" in data
    return suffix not in (".yaml", ".yml", ".json", ".csv")
