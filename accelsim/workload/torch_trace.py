"""Trace a real PyTorch model: instantiate it with ``transformers`` on the meta device (no weights,
no downloads), run one prefill pass or decode step under a ``TorchDispatchMode`` that records
the aten ops, and write the op IR.

What is recorded, per aten op (after PyTorch's own decompositions):

* ``mm / addmm / bmm / baddbmm`` -> ``Gemm``. An operand that is a model parameter (or a view
  or index of one, followed through ``t``, ``view``, ``index`` ...) is the weight: it becomes B
  (the GEMM is transposed if the weight was A) and gets the weight dtype and ``group_size``.
* ``bmm -> softmax -> bmm`` over the same rows -> one ``Attention`` op (HF's SDPA math path; the
  batch and head counts come from the inputs and the config, KV heads from the config).
* ``_softmax`` (e.g. the MoE router), ``native_layer_norm``, ``silu / gelu / relu`` -> ``Vector``.

Element-wise adds, RMSNorm (HF writes it as pow/mean/rsqrt/mul), RoPE and formula-style
activations (``gelu_new``) are not recorded; they are < 0.1% of the FLOPs (at most 0.067%
for the zoo models, both phases; tested). MoE experts run through
transformers' ``batched_mm`` implementation (the default one loops over data-dependent token
lists, which the meta device cannot evaluate): one GEMV per (token, expert) pair with gathered
weights, so FLOPs are exact but weight bytes are counted per token. The decoder layers are
found as the ``ModuleList`` of ``num_hidden_layers`` modules; identical consecutive layers
become one segment with ``repeat``. ``layers=k`` traces only k layers (checked identical) and
repeats them to the model's depth.

torch and transformers are imported inside the functions: ``import accelsim`` never needs them.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

from ..errors import AccelsimError
from .llm import check_positive_int
from .models import ModelConfig, load_model
from .ops import Attention, Gemm, Op, Vector
from .quant import Quant, make_quant
from .trace import Segment, Trace

_FOLLOW = {"t", "view", "_unsafe_view", "transpose", "permute", "expand", "alias", "index",
           "select", "slice", "unsqueeze", "squeeze", "clone", "_to_copy", "detach", "reshape",
           "contiguous", "split", "chunk", "unbind", "as_strided"}
_GEMMS = {"mm": (0, 1), "addmm": (1, 2), "bmm": (0, 1), "baddbmm": (1, 2)}
_ACT_OPS = {"silu": "silu", "gelu": "gelu", "relu": "relu"}


def _imports() -> tuple[Any, Any]:
    try:
        import torch
        import transformers
    except ImportError:
        raise AccelsimError("tracing PyTorch models needs torch and transformers: "
                            "pip install 'accelsim[trace]'") from None
    return torch, transformers


def hf_config(model: "str | Path", layers: int | None = None) -> tuple[Any, ModelConfig]:
    """The transformers config of a zoo name or config.json path, plus accelsim's parse of it."""
    _, transformers = _imports()
    cfg = load_model(str(model))  # validates: errors name the file, line and key
    data = json.loads(Path(cfg.source).read_text())
    model_type = data.pop("model_type")
    if layers is not None:
        if not 1 <= layers <= cfg.layers:
            raise AccelsimError(f"layers must be between 1 and {cfg.layers}, got {layers}")
        data["n_layer" if model_type == "gpt2" else "num_hidden_layers"] = layers
    return transformers.AutoConfig.for_model(model_type, **data), cfg


def trace_model(model: "str | Path", *, phase: str = "decode", batch: int = 1, ctx: int = 2048,
                prompt: int = 512, layers: int | None = None, weight_bits: float | str = 16,
                act_dtype: str = "bf16", kv_bits: float | str = 16,
                group_size: int | None = None) -> Trace:
    """Trace one prefill pass (``batch`` x ``prompt`` tokens) or decode step (``batch`` requests
    at context ``ctx``, the new token included) of a Hugging Face model config."""
    torch, transformers = _imports()
    if phase not in ("decode", "prefill"):
        raise AccelsimError(f"unknown phase {phase!r}; choose one of decode, prefill")
    for what, v in (("batch", batch), ("ctx", ctx), ("prompt", prompt)):
        check_positive_int(what, v)
    hf, cfg = hf_config(model, layers)
    quant = make_quant(weight_bits, act_dtype, kv_bits, group_size)
    tdtype = torch.float16 if quant.stream == "fp16" else torch.bfloat16
    kwargs: dict[str, Any] = {"dtype": tdtype, "attn_implementation": "sdpa"}
    if cfg.is_moe:
        kwargs["experts_implementation"] = "batched_mm"
    with torch.device("meta"):
        net = transformers.AutoModelForCausalLM.from_config(hf, **kwargs)
    net.eval()
    inputs = _inputs(torch, transformers, net, hf, cfg, phase, batch, ctx, prompt, tdtype)
    rec = _Recorder(net, cfg, hf)
    try:
        with torch.no_grad(), rec.mode:
            net(**inputs)
    finally:
        rec.remove_hooks()
    traced_layers = layers or cfg.layers
    segments = _segments(rec, cfg, quant, batch, traced_layers, phase)
    tokens = batch if phase == "decode" else batch * prompt
    meta = (("model", cfg.name), ("phase", phase), ("batch", str(batch)), ("tokens", str(tokens)),
            ("quant", quant.describe()), ("source", f"traced with transformers "
                                          f"{transformers.__version__}, torch {torch.__version__}"))
    length = f"ctx{ctx}" if phase == "decode" else f"p{prompt}"
    return Trace(f"{cfg.name}-traced-{phase}-b{batch}-{length}", tuple(segments), meta)


def _inputs(torch, transformers, net, hf, cfg: ModelConfig, phase: str, batch: int, ctx: int,
            prompt: int, tdtype) -> dict[str, Any]:
    """input_ids, explicit positions and a 4-D mask (HF's mask helpers read tensor values, which
    meta tensors do not have); for decode a KV cache of ctx - 1 tokens per layer."""
    meta = torch.device("meta")
    q = 1 if phase == "decode" else prompt
    kv = ctx if phase == "decode" else prompt
    out: dict[str, Any] = {
        "input_ids": torch.zeros(batch, q, dtype=torch.long, device=meta),
        "position_ids": torch.zeros(batch, q, dtype=torch.long, device=meta),
        "attention_mask": torch.ones(batch, 1, q, kv, dtype=torch.bool, device=meta),
    }
    if phase == "decode":
        cache = transformers.DynamicCache(config=hf)
        n_layers = hf.num_hidden_layers
        if ctx > 1:
            for i in range(n_layers):
                k = torch.empty(batch, cfg.kv_heads, ctx - 1, cfg.head_dim, dtype=tdtype, device=meta)
                cache.update(k, torch.empty_like(k), i)
        out.update(past_key_values=cache, use_cache=True)
    else:
        out["use_cache"] = False
        if "logits_to_keep" in inspect.signature(net.forward).parameters:
            out["logits_to_keep"] = 1  # logits of the sampled (last) position only
    return out


class _Recorder:
    """Records GEMMs, softmaxes, norms and activations with their scope (embed, layer i, head)."""

    def __init__(self, net, cfg: ModelConfig, hf) -> None:
        self.cfg = cfg
        self.weights: dict[int, Any] = {id(p): p for p in net.parameters()}
        self.events: list[tuple] = []  # (scope, module, kind, payload)
        self.scope: "str | int" = "embed"
        self.stack: list[str] = []
        self.hooks: list[Any] = []
        n = hf.num_hidden_layers
        lists = [nm for nm, m in net.named_modules()
                 if type(m).__name__ == "ModuleList" and len(m) == n]
        if not lists:
            raise AccelsimError(f"{cfg.name}: cannot find the {n} decoder layers to trace")
        self.layer_prefix = {f"{lists[0]}.{i}": i for i in range(n)}
        for name, mod in net.named_modules():
            self.hooks.append(mod.register_forward_pre_hook(self._enter(name)))
            self.hooks.append(mod.register_forward_hook(self._leave(name)))
        self.mode = _dispatch_mode(self)

    def _enter(self, name: str):
        def hook(mod, args):
            self.stack.append(name)
            if name in self.layer_prefix:
                self.scope = self.layer_prefix[name]
        return hook

    def _leave(self, name: str):
        def hook(mod, args, out):
            if self.stack and self.stack[-1] == name:
                self.stack.pop()
            if name in self.layer_prefix:
                self.scope = "head"
        return hook

    def remove_hooks(self) -> None:
        for h in self.hooks:
            h.remove()

    def _module(self) -> str:
        name = self.stack[-1] if self.stack else "model"
        for prefix in self.layer_prefix:
            if name.startswith(prefix + ".") or name == prefix:
                return name[len(prefix) + 1:] or "layer"
        return name

    def record(self, op: str, args: tuple, out: Any) -> None:
        import torch
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if op in _FOLLOW and tensors and id(tensors[0]) in self.weights:
            for o in (out if isinstance(out, (tuple, list)) else (out,)):
                if isinstance(o, torch.Tensor):
                    self.weights[id(o)] = o  # keep it alive so the id stays unique
            return
        if op in _GEMMS:
            ia, ib = _GEMMS[op]
            a, b = args[ia], args[ib]
            self._add("gemm", (tuple(a.shape), tuple(b.shape), id(a) in self.weights,
                               id(b) in self.weights))
        elif op in ("_softmax", "_safe_softmax"):
            self._add("softmax", tuple(args[0].shape))
        elif op == "native_layer_norm":
            self._add("layernorm", tuple(args[0].shape))
        elif op in _ACT_OPS:
            self._add(_ACT_OPS[op], tuple(args[0].shape))

    def _add(self, kind: str, payload: tuple) -> None:
        self.events.append((self.scope, self._module(), kind, payload))


def _dispatch_mode(rec: _Recorder) -> Any:
    """A TorchDispatchMode that hands every aten op (name, args, output) to ``rec.record``."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Mode(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            rec.record(func.overloadpacket.__name__, args, out)
            return out

    return Mode()


def _segments(rec: _Recorder, cfg: ModelConfig, quant: Quant, batch: int,
              traced_layers: int, phase: str) -> list[Segment]:
    by_scope: dict["str | int", list[tuple]] = {}
    for scope, module, kind, payload in rec.events:
        by_scope.setdefault(scope, []).append((module, kind, payload))
    out: list[Segment] = []
    if by_scope.get("embed"):
        out.append(Segment("embed", tuple(_ops(by_scope["embed"], cfg, quant, batch, "embed",
                                               phase))))
    layer_ops = [_ops(by_scope.get(i, []), cfg, quant, batch, str(i), phase)
                 for i in range(traced_layers)]
    sigs = [tuple((o.name, o.cost_key()) for o in ops) for ops in layer_ops]
    if traced_layers < cfg.layers and len(set(sigs)) > 1:
        raise AccelsimError(f"{cfg.name}: the {traced_layers} traced layers differ, so they cannot "
                            f"be repeated to {cfg.layers}; trace all layers")
    start = 0
    for i in range(1, traced_layers + 1):
        if i == traced_layers or sigs[i] != sigs[start]:
            reps = cfg.layers if traced_layers < cfg.layers else i - start
            label = f"{start}-{start + reps - 1}" if reps > 1 else str(start)
            ops = tuple(_retag(o, label) for o in layer_ops[start])
            name = "layers" if reps == cfg.layers else f"layers{label}"
            if ops:
                out.append(Segment(name, ops, repeat=reps))
            start = i
    if by_scope.get("head"):
        out.append(Segment("head", tuple(_ops(by_scope["head"], cfg, quant, batch, "head", phase))))
    if not out:
        raise AccelsimError(f"{cfg.name}: the traced forward pass recorded no ops")
    return out


def _retag(op: Op, label: str) -> Op:
    from dataclasses import replace
    return replace(op, tags=tuple((k, label if k == "layer" else v) for k, v in op.tags))


def _ops(events: list[tuple], cfg: ModelConfig, q: Quant, batch: int, layer: str,
         phase: str) -> list[Op]:
    """Turn one scope's events into ops, fusing bmm -> softmax -> bmm into Attention."""
    tags = (("layer", layer), ("phase", phase))
    ops: list[Op] = []
    used: dict[str, int] = {}

    def name(base: str) -> str:
        used[base] = used.get(base, 0) + 1
        return base if used[base] == 1 else f"{base}#{used[base]}"

    i = 0
    while i < len(events):
        module, kind, p = events[i]
        att = _attention(events, i, cfg, batch)
        if att is not None:
            ql, kvl, hd = att
            ops.append(Attention(name(f"{module}.attn"), batch=batch, heads=cfg.heads,
                                 kv_heads=cfg.kv_heads, q_len=ql, kv_len=kvl, head_dim=hd,
                                 dtype=q.stream, kv_dtype=q.kv, tags=tags))
            i += 3
            continue
        if kind == "gemm":
            ops.append(_gemm(name(module if p[2] or p[3] else f"{module}.gemm"), p, cfg, q, tags))
        else:
            ops.append(Vector(name(f"{module}.{kind}"), op=kind, rows=_prod(p[:-1]), cols=p[-1],
                              dtype=q.stream, tags=tags))
        i += 1
    return ops


def _attention(events: list[tuple], i: int, cfg: ModelConfig, batch: int):
    """(q_len, kv_len, head_dim) if events[i:i+3] are QK^T, softmax, PV of attention."""
    if i + 2 >= len(events):
        return None
    (_, k1, p1), (_, k2, p2), (_, k3, p3) = events[i:i + 3]
    if (k1, k2, k3) != ("gemm", "softmax", "gemm") or p1[2] or p1[3] or p3[2] or p3[3]:
        return None
    (a1, b1), (a3, b3) = p1[:2], p3[:2]
    if len(a1) != 3 or len(a3) != 3:
        return None
    bb, m, hd = a1
    kv = b1[2]
    if b1[:2] != (bb, hd) or a3 != (bb, m, kv) or b3[:2] != (bb, kv) or p2[-1] != kv \
            or _prod(p2) != bb * m * kv:
        return None
    rows = bb * m  # = batch * heads * q_len
    if rows % (batch * cfg.heads):
        return None
    return rows // (batch * cfg.heads), kv, hd


def _gemm(name: str, p: tuple, cfg: ModelConfig, q: Quant, tags) -> Gemm:
    a, b, a_w, b_w = p
    if a_w and not b_w:  # weight on the left: C^T = B^T A^T, so the weight becomes B
        a, b = tuple(b[:-2]) + (b[-1], b[-2]), tuple(a[:-2]) + (a[-1], a[-2])
    batch = _prod(a[:-2]) if len(a) > 2 else 1
    m, k, n = a[-2], a[-1], b[-1]
    if not (a_w or b_w):
        return Gemm(name, m=m, n=n, k=k, batch=batch, dtype=q.stream, tags=tags)
    head = n == cfg.vocab or (cfg.is_moe and n == cfg.experts)  # LM head, router: unquantised
    shared = len(b) == 2 or batch == 1
    if head:
        return Gemm(name, m=m, n=n, k=k, batch=batch, dtype=q.stream, w_dtype=q.head_dtype,
                    out_dtype=q.stream, b_shared=shared, tags=tags)
    return Gemm(name, m=m, n=n, k=k, batch=batch, dtype=q.act, w_dtype=q.weight,
                out_dtype=q.stream, group_size=q.group_size, b_shared=shared, tags=tags)


def _prod(xs) -> int:
    n = 1
    for x in xs:
        n *= int(x)
    return n
