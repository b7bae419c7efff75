"""The op IR: the only thing units see.

Each op is a frozen dataclass that knows its FLOPs and its bytes per operand. Composite ops
(attention) lower to primitive ops (batched GEMMs + softmax). ``cost_key()`` identifies ops
with the same cost, so units memoise on it and 32 identical layers are costed once.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import ClassVar

from ..config.bounds import MAX_DIM, MAX_HEAD_DIM, MAX_OP_MACS, MAX_TENSOR_ELEMENTS
from ..errors import AccelsimError
from ..registry import Registry
from .dtypes import dtype

#: op kinds by their ``kind:`` name (a new kind: an ``Op`` subclass registered here)
OP_KINDS: Registry[type["Op"]] = Registry("op", doc="op kinds of the workload IR (ops[].kind)")


@dataclass(frozen=True)
class Op:
    """Base op: a name, dependencies by name, free-form tags (layer index, phase, ...)."""

    name: str
    deps: tuple[str, ...] | None = field(default=None, kw_only=True)  # None: the previous op
    tags: tuple[tuple[str, str], ...] = field(default=(), kw_only=True)

    kind: ClassVar[str] = "op"
    #: op category the mapper matches units against: "gemm" or "vector"
    category: ClassVar[str] = "vector"

    def flops(self) -> float:
        raise NotImplementedError

    def operand_bytes(self) -> dict[str, float]:
        """Bytes of each operand as stored in memory: inputs and the output."""
        raise NotImplementedError

    def total_bytes(self) -> float:
        return float(sum(self.operand_bytes().values()))

    def intensity(self) -> float:
        """Arithmetic intensity in FLOP/byte over compulsory operand traffic."""
        b = self.total_bytes()
        return self.flops() / b if b else math.inf

    def lower(self) -> list["Op"]:
        """Primitive ops this op expands to (itself for primitive ops)."""
        return [self]

    #: input operand names, the first being the op's main input (its first dependency's output)
    inputs: ClassVar[tuple[str, ...]] = ()
    #: output operand name
    output: ClassVar[str] = "out"

    def resident_bytes(self) -> dict[str, float]:
        """Bytes this op needs kept in main memory across runs, by kind ('weights', 'kv_cache')."""
        return {}

    def shape(self) -> dict[str, object]:
        """Shape and dtype fields (everything but name, deps, tags)."""
        return {n: getattr(self, n) for n in _shape_fields(type(self))}

    def cost_key(self) -> tuple:
        """Kind and shape values: equal for ops that cost the same (units memoise on it)."""
        return (self.kind, tuple([getattr(self, n) for n in _shape_fields(type(self))]))

    def to_dict(self) -> dict:
        d = {"name": self.name, "kind": self.kind}
        d.update({k: v for k, v in asdict(self).items() if k not in ("name", "deps", "tags")
                  and v is not None})
        if self.deps is not None:
            d["deps"] = list(self.deps)
        if self.tags:
            d["tags"] = dict(self.tags)
        return d


#: an op class's shape field names (``Op.shape``), in field order: a property of the class, read
#: once per class (``dataclasses.fields`` builds a new tuple on every call; issue 16)
_SHAPE_FIELDS: dict[type, tuple[str, ...]] = {}


def _shape_fields(cls: type) -> tuple[str, ...]:
    names = _SHAPE_FIELDS.get(cls)
    if names is None:
        names = _SHAPE_FIELDS[cls] = tuple(f.name for f in fields(cls)
                                           if f.name not in ("name", "deps", "tags"))
    return names


def _positive(op: Op, *names: str, bound: int = MAX_DIM) -> None:
    """Each of ``names`` a positive integer of at most ``bound`` (``accelsim.config.bounds``)."""
    for n in names:
        v = getattr(op, n)
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
            raise AccelsimError(f"op {op.name!r}: {n} must be a positive integer, got {v!r}")
        if v > bound:
            raise AccelsimError(f"op {op.name!r}: {n} must be at most {bound:,} (2^"
                                f"{bound.bit_length() - 1}), got {v:,}")


def _bounded(op: Op, **products: int) -> None:
    """Sizes derived from an op's dimensions: each ``products`` entry names the elements of an
    operand (at most MAX_TENSOR_ELEMENTS) or, for the key ``macs``, its MACs (at most
    MAX_OP_MACS), so that bytes, bits and cycles stay exact and finite."""
    for what, v in products.items():
        bound = MAX_OP_MACS if what == "macs" else MAX_TENSOR_ELEMENTS
        if v > bound:
            label = "MACs" if what == "macs" else f"elements of {what}"
            raise AccelsimError(f"op {op.name!r}: {v:,} {label}, more than the {bound:,} "
                                f"(2^{bound.bit_length() - 1}) accelsim accepts per op; use "
                                f"smaller dimensions")


def _check_dtypes(op: Op, *names: str) -> None:
    for n in names:
        dtype(getattr(op, n))  # raises with the list of known dtypes


@OP_KINDS.register("gemm")
@dataclass(frozen=True)
class Gemm(Op):
    """C[M,N] = A[M,K] @ B[K,N], repeated ``batch`` times (batch > 1: batched GEMM).

    ``dtype`` is the activation (A) dtype, ``w_dtype`` the B operand's, ``out_dtype`` C's.
    ``group_size``: quantisation group along K for B (one scale per group), None if per-tensor.
    ``b_shared``: B is the same for every batch element (a weight), so it is fetched once.
    """

    m: int = 1
    n: int = 1
    k: int = 1
    batch: int = 1
    dtype: str = "bf16"
    w_dtype: str | None = None
    out_dtype: str | None = None
    group_size: int | None = None
    b_shared: bool = False

    kind: ClassVar[str] = "gemm"
    category: ClassVar[str] = "gemm"
    inputs: ClassVar[tuple[str, ...]] = ("A", "B")
    output: ClassVar[str] = "C"

    def __post_init__(self) -> None:
        _positive(self, "m", "n", "k", "batch")
        if self.group_size is not None:
            _positive(self, "group_size")
        b = self.batch
        _bounded(self, A=b * self.m * self.k, B=(1 if self.b_shared else b) * self.k * self.n,
                 C=b * self.m * self.n, macs=self.macs())
        _check_dtypes(self, "a_dtype", "b_dtype", "c_dtype")

    @property
    def a_dtype(self) -> str:
        return self.dtype

    @property
    def b_dtype(self) -> str:
        return self.w_dtype or self.dtype

    @property
    def c_dtype(self) -> str:
        return self.out_dtype or self.dtype

    def macs(self) -> int:
        return self.batch * self.m * self.n * self.k

    def flops(self) -> float:
        return 2.0 * self.macs()

    def operand_bytes(self) -> dict[str, float]:
        b_copies = 1 if self.b_shared else self.batch
        out = {
            "A": self.batch * self.m * self.k * dtype(self.a_dtype).bytes,
            "B": b_copies * self.k * self.n * dtype(self.b_dtype).bytes,
            "C": self.batch * self.m * self.n * dtype(self.c_dtype).bytes,
        }
        if self.group_size:  # one fp16 scale per group of B
            out["B_scales"] = b_copies * math.ceil(self.k / self.group_size) * self.n * 2.0
        return out

    def resident_bytes(self) -> dict[str, float]:
        """B is a weight (with its scales) when it is shared across the batch or there is no
        batch; a batched GEMM with its own B per element (attention written out) is not."""
        if not (self.b_shared or self.batch == 1):
            return {}
        b = self.operand_bytes()
        return {"weights": b["B"] + b.get("B_scales", 0.0)}


@OP_KINDS.register("grouped_gemm")
@dataclass(frozen=True)
class GroupedGemm(Gemm):
    """One kernel for several GEMMs of one shape but their own rows and weights (MoE experts):
    group g computes C_g[m_g, N] = A_g[m_g, K] @ B_g[K, N]. ``groups`` = (m_1, m_2, ...); ``m`` is
    their sum. Produced by the ``grouped_experts`` pass for units that run grouped kernels."""

    groups: tuple[int, ...] = ()

    kind: ClassVar[str] = "grouped_gemm"
    category: ClassVar[str] = "grouped_gemm"

    def __post_init__(self) -> None:
        g = tuple(self.groups) if isinstance(self.groups, (list, tuple)) else self.groups
        if not isinstance(g, tuple) or not g or not all(
                isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in g):
            raise AccelsimError(f"op {self.name!r}: groups must be a non-empty list of positive "
                                f"integers (rows of each group), got {self.groups!r}")
        if self.batch != 1:
            raise AccelsimError(f"op {self.name!r}: a grouped GEMM has batch 1, got {self.batch}")
        object.__setattr__(self, "groups", g)
        if self.m != 1 and self.m != sum(g):   # m: left at its default, or the sum
            raise AccelsimError(f"op {self.name!r}: m must be the sum of groups ({sum(g)}), "
                                f"got {self.m}")
        object.__setattr__(self, "m", sum(g))
        super().__post_init__()

    def operand_bytes(self) -> dict[str, float]:
        """A and C over all rows; B (and its scales) once per group."""
        out = {"A": self.m * self.k * dtype(self.a_dtype).bytes,
               "B": len(self.groups) * self.k * self.n * dtype(self.b_dtype).bytes,
               "C": self.m * self.n * dtype(self.c_dtype).bytes}
        if self.group_size:
            out["B_scales"] = len(self.groups) * math.ceil(self.k / self.group_size) * self.n * 2.0
        return out

    def resident_bytes(self) -> dict[str, float]:
        b = self.operand_bytes()
        return {"weights": b["B"] + b.get("B_scales", 0.0)}


#: FLOPs per element and number of input tensors for each vector op kind.
VECTOR_KINDS: dict[str, tuple[float, int]] = {
    # kind: (flops per output element, input tensors)
    "add": (1, 2),          # residual add
    "mul": (1, 2),          # gating multiply (SwiGLU)
    "silu": (4, 1),         # x * sigmoid(x): exp, add, div, mul
    "gelu": (8, 1),         # tanh approximation
    "relu": (1, 1),
    "copy": (0, 1),
    "softmax": (5, 1),      # max, sub, exp, sum, div
    "layernorm": (7, 1),    # mean, var, sub, mul, add, scale, shift
    "rmsnorm": (4, 1),      # square, sum, rsqrt-mul, scale
    "rope": (6, 1),         # rotary embedding
}


@OP_KINDS.register("vector")
@dataclass(frozen=True)
class Vector(Op):
    """An element-wise or row-wise (softmax, norm) op over ``rows x cols`` elements."""

    op: str = "add"
    rows: int = 1
    cols: int = 1
    dtype: str = "bf16"

    kind: ClassVar[str] = "vector"
    category: ClassVar[str] = "vector"
    inputs: ClassVar[tuple[str, ...]] = ("in0", "in1")

    def __post_init__(self) -> None:
        if self.op not in VECTOR_KINDS:
            raise AccelsimError(f"op {self.name!r}: unknown vector op {self.op!r}; "
                                f"known: {', '.join(VECTOR_KINDS)}")
        _positive(self, "rows", "cols")
        _bounded(self, out=self.rows * self.cols)
        _check_dtypes(self, "dtype")

    def elements(self) -> int:
        return self.rows * self.cols

    def flops(self) -> float:
        return float(VECTOR_KINDS[self.op][0] * self.elements())

    def operand_bytes(self) -> dict[str, float]:
        n_in = VECTOR_KINDS[self.op][1]
        size = self.elements() * dtype(self.dtype).bytes
        out = {f"in{i}": size for i in range(n_in)}
        out["out"] = size
        return out


@OP_KINDS.register("attention")
@dataclass(frozen=True)
class Attention(Op):
    """Scaled dot-product attention with grouped-query heads; lowers to QK^T, softmax, PV
    (each tagged ``attention: <this op's name>`` besides the op's own tags).

    Shapes: Q [batch, heads, q_len, head_dim]; K, V [batch, kv_heads, kv_len, head_dim].
    Queries sharing a KV head are stacked into the GEMM's M dimension (GQA), so the K/V
    operands are read once per KV head.
    """

    batch: int = 1
    heads: int = 1
    kv_heads: int | None = None
    q_len: int = 1
    kv_len: int = 1
    head_dim: int = 64
    dtype: str = "bf16"
    kv_dtype: str | None = None
    #: causal mask; None: causal when every query is also a key (q_len == kv_len > 1, prefill)
    causal: bool | None = None

    kind: ClassVar[str] = "attention"
    category: ClassVar[str] = "composite"

    def __post_init__(self) -> None:
        _positive(self, "batch", "heads", "q_len", "kv_len")
        _positive(self, "head_dim", bound=MAX_HEAD_DIM)
        if self.kv_heads is not None:
            _positive(self, "kv_heads")
            if self.heads % self.kv_heads:
                raise AccelsimError(f"op {self.name!r}: kv_heads ({self.kv_heads}) must divide "
                                    f"heads ({self.heads})")
        bh, hd = self.batch * self.heads, self.head_dim
        _bounded(self, Q=bh * self.q_len * hd, K=self.batch * self.n_kv * self.kv_len * hd,
                 scores=bh * self.q_len * self.kv_len, macs=2 * bh * self.q_len * self.kv_len * hd)
        _check_dtypes(self, "dtype")
        if self.kv_dtype:
            _check_dtypes(self, "kv_dtype")

    @property
    def n_kv(self) -> int:
        return self.kv_heads or self.heads

    @property
    def is_causal(self) -> bool:
        return self.causal if self.causal is not None else self.q_len == self.kv_len > 1

    def attended_pairs(self) -> int:
        """(query, key) pairs one head scores: q x kv, or under a causal mask (the queries
        being the last q_len of kv_len positions) q (kv - q) + q (q + 1) / 2."""
        q, kv = self.q_len, self.kv_len
        if not self.is_causal:
            return q * kv
        q = min(q, kv)
        return q * (kv - q) + q * (q + 1) // 2

    def lower(self) -> list[Op]:
        group = self.heads // self.n_kv
        b = self.batch * self.n_kv
        m = group * self.q_len
        kvd = self.kv_dtype or self.dtype
        # the parts keep the op's tags plus ("attention", name): which attention they came
        # from, for policies that dispatch attention as a whole (duplex_stage)
        tags = self.tags if "attention" in dict(self.tags) else \
            self.tags + (("attention", self.name),)
        base = dict(tags=tags)
        qk = Gemm(f"{self.name}.qk", m=m, n=self.kv_len, k=self.head_dim, batch=b,
                  dtype=self.dtype, w_dtype=kvd, deps=self.deps, **base)
        sm = Vector(f"{self.name}.softmax", op="softmax", rows=b * m, cols=self.kv_len,
                    dtype=self.dtype, deps=(qk.name,), **base)
        pv = Gemm(f"{self.name}.pv", m=m, n=self.head_dim, k=self.kv_len, batch=b,
                  dtype=self.dtype, w_dtype=kvd, deps=(sm.name,), **base)
        return [qk, sm, pv]

    def flops(self) -> float:
        return float(sum(o.flops() for o in self.lower()))

    def operand_bytes(self) -> dict[str, float]:
        kvb = dtype(self.kv_dtype or self.dtype).bytes
        ab = dtype(self.dtype).bytes
        q = self.batch * self.heads * self.q_len * self.head_dim * ab
        kv = self.batch * self.n_kv * self.kv_len * self.head_dim * kvb
        return {"Q": q, "K": kv, "V": kv, "O": q}

    def resident_bytes(self) -> dict[str, float]:
        """The K and V caches of every sequence."""
        b = self.operand_bytes()
        return {"kv_cache": b["K"] + b["V"]}


@OP_KINDS.register("flash_attention")
@dataclass(frozen=True)
class FlashAttention(Attention):
    """Attention as one fused kernel (FlashAttention-style: scores and probabilities stay on
    chip, only Q, K, V and O move), with split-KV for decode. Produced by a unit's target
    lowering (the GPU's); FLOPs count only the attended (query, key) pairs."""

    kind: ClassVar[str] = "flash_attention"
    category: ClassVar[str] = "fused_attention"
    inputs: ClassVar[tuple[str, ...]] = ("Q", "K", "V")
    output: ClassVar[str] = "O"

    @classmethod
    def of(cls, att: Attention) -> "FlashAttention":
        return cls(att.name, batch=att.batch, heads=att.heads, kv_heads=att.kv_heads,
                   q_len=att.q_len, kv_len=att.kv_len, head_dim=att.head_dim, dtype=att.dtype,
                   kv_dtype=att.kv_dtype, causal=att.is_causal, deps=att.deps, tags=att.tags)

    def lower(self) -> list[Op]:
        return [self]

    def flops(self) -> float:
        """QK^T and PV over the attended pairs (2 FLOPs per MAC each), plus softmax (5/score)."""
        pairs = self.batch * self.heads * self.attended_pairs()
        return float(pairs * (4 * self.head_dim + 5))
