"""GPU tensor-core unit (``type: gpu``): SMs with tensor cores, per-op kernels (kernels.py).

The unit runs GEMMs (bf16/fp16, fp8, int8, tf32; weight-only int4/int2/int3 with bf16/fp16
activations), element-wise and normalisation ops, and fused attention: it lowers attention to
one FlashAttention-style kernel (``FlashAttention``: no S = QK^T round trip to HBM, split-KV
for decode, grouped-query heads). Each op is one kernel; kernels on one GPU run one after
another (one stream). Its time is the larger of the kernel's ceilings (its MAC rate, and the
share of the memory's bandwidth the kernel class reaches) and the time the device's memory
needs for its bytes, plus a fixed per-kernel overhead (launch gap under CUDA graphs, prologue
and epilogue). The ceilings read the memory's bandwidth, so the unit declares the memory's
timing as its context. All efficiencies come from a named calibration set (calibration.py) with provenance.

With ``lut_tensor_core`` (lut.py), low-bit-weight GEMMs run on LUT Tensor Core arrays in the
tensor-core slots (LUT Tensor Core Table 1: A100-LUT-4X ...), their tables built by a
``lut_tables`` op (pass ``lut_precompute``).

Energy: unknown (NaN) by default: the library has no GPU components. A config opts in with
``energy: {mac_kind: <kind>}``, a cited MAC of the technology library (``mac,mac,kind=...`` rows,
e.g. ``asap7_fp16_duplex``, the 0.46 pJ FP16 MAC (0.23 pJ per FLOP) of Duplex's xPU [Yun et al.
MICRO'24 Sec 6; the authors' src/dram/power.h]); the unit then charges every tensor-core MAC of its
GEMMs, grouped GEMMs and fused attention (QK^T + PV) at that energy, the paper's xPU energy model:
E = MACs x e_MAC, plus the memory's own per-bit and activation energy for the bytes the kernels
move (priced by the memory model). ``vector_flops`` (softmax | all; default none) also charges
element-wise FLOPs at half the MAC's energy (what the Duplex authors' xPU charges: attention's
softmax). Caches, register files and static power are not charged (a stated omission of the
opt-in model, not a default). ``timing: roofline`` replaces the kernel models by roofline.py's
rule (Duplex's xPU as its authors time it). Area: the datasheet die area when the config gives ``die_area_mm2`` (plus the LUT
arrays' logic); the opt-in needs it, since the priced MACs sit inside the die (component
``in_die``: no area of their own).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ....config.bounds import MAX_PES
from ....errors import AccelsimError
from ....workload.dtypes import dtype
from ....workload.lut_ops import LutTables
from ....workload.ops import VECTOR_KINDS as VECTOR_FLOPS
from ....workload.ops import Attention, FlashAttention, Gemm, GroupedGemm, Op, Vector
from ...base import Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig
from ...registry import register_unit
from . import kernels, roofline
from .calibration import VECTOR_KINDS, Efficiency, efficiency
from .lut import LUT_KERNEL_CLASS, GpuLutConfig, build_lut, lut_logic

#: MMA dtype class of an operand dtype
_MMA = {"bf16": "bf16", "fp16": "fp16", "fp8_e4m3": "fp8", "fp8_e5m2": "fp8", "int8": "int8",
        "tf32": "tf32", "fp32": "tf32"}
_WEIGHT_ONLY = {"int4", "int3", "int2", "int1", "ternary"}


class GpuEnergyConfig(BaseModel):
    """The opt-in energy model (module docstring): a cited library MAC for the tensor cores."""

    model_config = ConfigDict(extra="forbid")
    mac_kind: str = Field(description="cited MAC of the technology library (mac,mac,kind=... "
                          "in accelsim/cost/data/constants.csv), e.g. asap7_fp16_duplex")
    vector_flops: Literal["none", "softmax", "all"] = Field(
        "none", description="element-wise FLOPs charged at half the MAC's energy per FLOP: "
        "none; softmax (attention's softmax, fused or not: what the Duplex authors' xPU "
        "charges); all (every element-wise op's FLOPs)")

    @field_validator("mac_kind")
    @classmethod
    def _known(cls, v: str) -> str:
        from ....cost.components import mac_kinds
        if v not in mac_kinds():
            raise ValueError(f"unknown MAC energy kind {v!r}; the technology library has: "
                             f"{', '.join(mac_kinds()) or 'none'}")
        return v


class GpuConfig(UnitConfig):
    type: Literal["gpu"] = "gpu"
    sms: int = Field(gt=0, le=4096, description="streaming multiprocessors")
    mma_macs_per_sm_cycle: dict[str, float] = Field(
        description="dense tensor-core MACs per SM per cycle by dtype class (bf16, fp16, fp8, "
        "int8, tf32) at clock_ghz")
    fp32_flops_per_sm_cycle: float = Field(256, gt=0, le=MAX_PES, description="CUDA-core FP32 "
                                           "FLOPs per SM per cycle (element-wise work)")
    l2_mb: float = Field(50, gt=0, le=4096, description="L2 size (the GEMM model assumes it "
                         "holds a wave's operand reuse)")
    smem_kb_per_sm: float = Field(228, gt=0, le=65536, description="shared memory per SM")
    regs_kb_per_sm: float = Field(256, gt=0, le=65536, description="register file per SM")
    die_area_mm2: float | None = Field(None, gt=0, le=1e5, allow_inf_nan=False,
                                       description="the die's datasheet area (None: unknown)")
    gemm_schedule: Literal["waves", "stream_k"] = Field(
        "stream_k", description="GEMM CTA scheduling: waves (+ split-K, Ampere cuBLAS) or "
        "stream_k (persistent CTAs sharing K loops, Hopper)")
    moe_kernel: Literal["grouped", "loop"] = Field(
        "grouped", description="MoE experts: grouped (one grouped GEMM per projection over all "
        "experts, the grouped_experts pass) or loop (one kernel per expert, a PyTorch loop)")
    calibration: str = Field("h200", description="calibration set (accelsim/arch/units/gpu/"
                             "data/calibration.yaml) or a .yaml file from accelsim measured fit")
    efficiency: dict[str, Any] = Field(default_factory=dict, description="overrides of single "
                                       "calibration values, e.g. {gemm_overhead_us: 4}")
    timing: Literal["calibrated", "roofline"] = Field(
        "calibrated", description="calibrated: the kernel models with the calibration set's "
        "efficiencies; roofline: max(FLOPs / peak, bytes / bandwidth) per op, attention "
        "unfused (roofline.py: Duplex's xPU as its authors' simulator times it)")
    energy: GpuEnergyConfig | None = Field(
        None, description="opt-in energy model: {mac_kind: <library MAC>} prices each "
        "tensor-core MAC (needs die_area_mm2); None: the GPU's energy is unknown (NaN)")
    lut_tensor_core: GpuLutConfig | None = Field(
        None, description="LUT Tensor Core arrays in the tensor-core slots for low-bit-weight "
        "GEMMs (e.g. {units_per_tensor_core: 4, act_dtype: int8} = A100-LUT-4X); None: none")

    @field_validator("mma_macs_per_sm_cycle")
    @classmethod
    def _classes(cls, v: dict[str, float]) -> dict[str, float]:
        bad = set(v) - set(_MMA.values())
        if bad:
            raise ValueError(f"unknown dtype class(es) {sorted(bad)}; use bf16, fp16, fp8, "
                             "int8, tf32")
        if any(not (0 < x <= MAX_PES) for x in v.values()):
            raise ValueError(f"MAC rates must be > 0 and <= {MAX_PES:,}")
        return v

    @model_validator(mode="after")
    def _energy_in_die(self) -> "GpuConfig":
        if self.energy is not None and self.die_area_mm2 is None:
            raise ValueError("energy needs die_area_mm2: the priced MACs sit inside the die, "
                             "which carries the unit's area")
        if self.energy is not None and self.lut_tensor_core is not None:
            raise ValueError("energy with lut_tensor_core is not modelled (the LUT arrays "
                             "have no cited energy here)")
        return self


@register_unit("gpu")
class GpuUnit(Unit):
    """GPU of SMs with tensor cores; one kernel per op (GEMM tiles and waves, fused attention)."""

    config_model = GpuConfig
    categories = ("gemm", "grouped_gemm", "vector", "fused_attention")
    energy_modelled = False   # no GPU components in the library: unknown unless opted in
    config: GpuConfig

    def components(self) -> list[Component] | None:
        """The datasheet die (area only), when given, plus the LUT arrays' logic; with the
        opt-in energy model, the tensor-core MACs priced at the cited library MAC (inside the
        die: no area of their own)."""
        a = self.config.die_area_mm2
        if a is None:
            return None
        extra = lut_logic(self.lut) if self.lut is not None else []
        e = self.config.energy
        if e is not None:
            n = self.config.sms * max(self.config.mma_macs_per_sm_cycle.values())
            extra.append(Component("tensor_macs", "mac", n,
                                   {"dtype": "fp16", "energy_kind": e.mac_kind, "in_die": True},
                                   {"macs": "mac", "vector_flops": "flop"}))
        return [Component("die", "die", 1, {"area_mm2": a}), *extra]

    def __init__(self, name: str, config: GpuConfig) -> None:
        super().__init__(name, config)
        #: energy is known only with the opt-in model (``energy: {mac_kind: ...}``)
        self.energy_modelled = config.energy is not None
        self.eff: Efficiency = efficiency(config.calibration, config.efficiency)
        lut = config.lut_tensor_core
        self.lut = build_lut(name, lut, config.sms) if lut is not None else None

    @property
    def passes(self) -> tuple[str, ...]:  # type: ignore[override]
        """Grouped MoE kernels need the experts merged (``grouped_experts``); LUT arrays need
        their GEMMs' tables (``lut_precompute``)."""
        grouped = ("grouped_experts",) if self.config.moe_kernel == "grouped" else ()
        return grouped + (("lut_precompute",) if self.lut is not None else ())

    def on_lut(self, op: Op) -> bool:
        """Whether ``op`` runs on the LUT arrays (a low-bit-weight GEMM they accept)."""
        return self.lut is not None and type(op) is Gemm and self.lut.can_run(op)

    def tables_for(self, op: Op) -> LutTables | None:
        """The table precompute a GEMM on the LUT arrays needs (the ``lut_precompute`` pass)."""
        return self.lut.tables_for(op) if self.lut is not None and self.on_lut(op) else None

    # -- context: the ceilings read the memory's bandwidth ------------------------------------
    def context_key(self) -> tuple:
        return (self.context.memory.timing_key(),) if self.context else ()

    @property
    def clock_ghz(self) -> float:
        return self.config.clock_ghz or (self.context.device_clock_ghz if self.context else 1.0)

    def _cycles(self, seconds: float) -> float:
        return seconds * self.clock_ghz * 1e9

    def _hbm_bytes_per_s(self) -> float:
        mem = self.context.memory
        return mem.bandwidth_gb_s * 1e9

    # -- what it runs ---------------------------------------------------------------------------
    def peak(self, dtypes: Sequence[str] = ()) -> Peak:
        """MMA rate of the operands' dtype class; the LUT arrays' for (activation, low-bit
        weight) they take."""
        if (self.lut is not None and len(dtypes) > 1 and dtype(dtypes[1]).name in _WEIGHT_ONLY
                and self.lut.can_run(Gemm("peak", m=1, n=1, k=1, dtype=dtypes[0],
                                          w_dtype=dtypes[1]))):
            return self.lut.peak(dtypes)
        cls = _MMA.get(dtype(dtypes[0]).name, "bf16") if dtypes else "bf16"
        rate = self.config.mma_macs_per_sm_cycle.get(cls) or self.config.mma_macs_per_sm_cycle.get(
            "bf16", 0.0)
        return Peak.of_macs(self.config.sms * rate)

    def check(self, op: Op) -> None:
        if isinstance(op, LutTables):
            if self.lut is None:
                raise AccelsimError("no LUT arrays (lut_tensor_core) to build tables for")
            self.lut.check(replace(op, fused=None))
        elif isinstance(op, Gemm):
            self._gemm_class(op)

    def _gemm_class(self, op: Gemm) -> str:
        """'lut' for GEMMs the LUT arrays take, 'w4a16' for weight-only low-bit GEMMs, else the
        MMA dtype class of the operands."""
        if self.on_lut(op):
            return "lut"
        a, b = dtype(op.a_dtype).name, dtype(op.b_dtype).name
        if b in _WEIGHT_ONLY and a in ("bf16", "fp16"):
            return "w4a16"
        ca, cb = _MMA.get(a), _MMA.get(b)
        if ca is None or ca != cb:
            raise AccelsimError(f"no tensor-core kernel for A={a}, B={b} (supported: equal "
                                f"bf16/fp16/fp8/int8/tf32 operands, or bf16/fp16 x int4/int2)")
        if ca not in self.config.mma_macs_per_sm_cycle:
            raise AccelsimError(f"no {ca} tensor-core rate in mma_macs_per_sm_cycle")
        if ca not in self.eff.mma_efficiency:
            raise AccelsimError(f"calibration {self.config.calibration!r} has no "
                                f"mma_efficiency for {ca}")
        return ca

    def lower(self, op: Op) -> Sequence[Op] | None:
        """Attention becomes one fused kernel on this GPU; under ``timing: roofline`` its
        QK^T, softmax and PV primitives (the Duplex authors' unfused attention, roofline.py)."""
        if isinstance(op, Attention) and not isinstance(op, FlashAttention):
            return op.lower() if self.config.timing == "roofline" else [FlashAttention.of(op)]
        return None

    # -- cost -----------------------------------------------------------------------------------
    def _cost(self, op: Op) -> OpCost:
        if self.config.timing == "roofline":
            return self._roofline_cost(op)
        if isinstance(op, FlashAttention):
            k, peak = self._attention(op), self.peak((op.dtype,))
        elif isinstance(op, GroupedGemm):
            k, peak = self._grouped(op), self.peak((op.a_dtype,))
        elif isinstance(op, Gemm):
            k, peak = self._gemm(op), self.peak((op.a_dtype, op.b_dtype))
        else:
            assert isinstance(op, Vector)
            k, peak = self._vector(op), Peak.of_flops(self.config.sms
                                                      * self.config.fp32_flops_per_sm_cycle)
        compute, reads, writes = k.tile_arrays()
        traffic = tuple(Traffic(name, read=reads.get(name), write=writes.get(name))
                        for name in dict.fromkeys([*reads, *writes]))
        tiles = TileSchedule(compute=compute, traffic=traffic, tail=k.overhead)
        macs = float(op.macs()) if isinstance(op, Gemm) else 0.0
        return OpCost(self.name, tiles, macs, op.flops(), {}, self._energy_actions(op), peak,
                      kernel=k.name)

    def _roofline_cost(self, op: Op) -> OpCost:
        """``timing: roofline``: every op, element-wise ones included, at the MMA peak of its
        dtype class (the authors' compute_peak_flops) against the memory (roofline.py)."""
        dt = (op.a_dtype, op.b_dtype) if isinstance(op, Gemm) else (getattr(op, "dtype", "fp16"),)
        if isinstance(op, Gemm):
            self._gemm_class(op)
        peak = self.peak(dt)
        tiles = roofline.schedule(op, peak.macs * 2.0)
        macs = float(op.macs()) if isinstance(op, Gemm) else 0.0
        parts = f"{len(op.groups)} groups, each " if isinstance(op, GroupedGemm) else ""
        return OpCost(self.name, tiles, macs, op.flops(), {}, self._energy_actions(op), peak,
                      kernel=f"roofline: {parts}max(FLOPs / peak, bytes / bandwidth)")

    def _energy_actions(self, op: Op) -> dict[str, float]:
        """What the opt-in energy model charges for ``op``: tensor-core MACs, and element-wise
        FLOPs as ``energy.vector_flops`` says (priced per FLOP at half the MAC's energy, the
        cost package's ``flop`` action of a cited MAC). None without the opt-in."""
        e = self.config.energy
        if e is None:
            return {}
        acts = {"macs": self._mma_macs(op)}
        if e.vector_flops != "none":
            acts["vector_flops"] = self._vector_flops(op, e.vector_flops == "all")
        return acts

    @staticmethod
    def _vector_flops(op: Op, every: bool) -> float:
        """Element-wise FLOPs of ``op`` that the opt-in model charges: a softmax's (standalone,
        or fused attention's: one softmax element per attended pair and head, at the workload's
        softmax FLOPs per element), or with ``every`` any element-wise op's. The Duplex authors'
        xPU charges attention's scale + mask + softmax (7 FLOPs per score:
        attention_gen_impl.cpp line 113, attention_sum_impl.cpp softmax loop) and nothing for
        the activation (activation_impl.cpp line 23: total_flops = 0) or the norms, residuals
        and RoPE (layernorm.cpp, residual.cpp, rope.cpp: time only, no ExecStatus)."""
        if isinstance(op, FlashAttention):
            per = VECTOR_FLOPS["softmax"][0]
            return float(op.batch * op.heads * op.attended_pairs() * per)
        if isinstance(op, Vector) and not isinstance(op, LutTables) and (
                every or op.op == "softmax"):
            return float(op.flops())
        return 0.0

    @staticmethod
    def _mma_macs(op: Op) -> float:
        """Tensor-core MACs the opt-in energy model charges: a GEMM's, or fused attention's
        QK^T + PV (2 x head_dim per attended pair and head; its softmax is element-wise);
        element-wise ops have none."""
        if isinstance(op, Gemm):
            return float(op.macs())
        if isinstance(op, FlashAttention):
            return float(op.batch * op.heads * op.attended_pairs() * 2 * op.head_dim)
        return 0.0

    def _gemm(self, op: Gemm) -> kernels.Kernel:
        cfg, eff = self.config, self.eff
        b = op.operand_bytes()
        shape = kernels.GemmShape(op.batch, op.m, op.n, op.k, b["A"],
                                  b["B"] + b.get("B_scales", 0.0), b["C"])
        cls = self._gemm_class(op)
        if cls == "lut":
            return self._lut_gemm(op, shape)
        if cls == "w4a16":
            bf16 = cfg.mma_macs_per_sm_cycle["bf16"] * cfg.sms
            stream = self._cycles(shape.b_bytes / (self._hbm_bytes_per_s()
                                                   * eff.w4a16_stream_fraction))
            mma = op.macs() / (bf16 * eff.w4a16_mma_efficiency)
            return kernels.w4a16(shape, stream, mma, self._cycles(eff.w4a16_overhead_us * 1e-6))
        rate = cfg.mma_macs_per_sm_cycle[cls] * eff.mma_efficiency[cls]
        overhead = eff.gemm_overhead_us.get(cls, eff.gemm_overhead_us["bf16"])
        return kernels.gemm(shape, cfg.sms, rate, self._cycles(overhead * 1e-6), cls,
                            self._hbm_bytes_per_s() / (self.clock_ghz * 1e9), cfg.l2_mb * 2**20,
                            eff.gemm_stream_fraction.get(cls, 1.0), cfg.gemm_schedule)

    def _lut_gemm(self, op: Gemm, shape: kernels.GemmShape) -> kernels.Kernel:
        """The tensor-core GEMM model at the LUT arrays' MAC rate, reading the tables as A
        (lut.py)."""
        assert self.lut is not None
        cfg, eff, cls = self.config, self.eff, LUT_KERNEL_CLASS
        tables = self.lut.tables_for(op)
        a_bytes = tables.operand_bytes()["out"] if tables is not None else shape.a_bytes
        rate = self.lut.peak((op.a_dtype, op.b_dtype)).macs / cfg.sms
        k = kernels.gemm(replace(shape, a_bytes=a_bytes), cfg.sms,
                         rate * eff.mma_efficiency[cls],
                         self._cycles(eff.gemm_overhead_us[cls] * 1e-6), "lut",
                         self._hbm_bytes_per_s() / (self.clock_ghz * 1e9), cfg.l2_mb * 2**20,
                         eff.gemm_stream_fraction.get(cls, 1.0), cfg.gemm_schedule)
        t = self.lut.config.tile
        planes = self.lut.planes(op)
        return replace(k, name=f"{k.name} (LUT M{t.m}N{t.n}K{t.k} x{self.lut.config.tiles}, "
                                f"{planes} bit plane(s))")

    def _grouped(self, op: GroupedGemm) -> kernels.Kernel:
        """One grouped kernel (bf16/fp16), else the groups' GEMM kernels back to back."""
        cls, cfg, eff = self._gemm_class(op), self.config, self.eff
        if cls not in ("bf16", "fp16"):
            parts = [self._gemm(Gemm(f"{op.name}.{i}", m=m, n=op.n, k=op.k, dtype=op.dtype,
                                     w_dtype=op.w_dtype, out_dtype=op.out_dtype,
                                     group_size=op.group_size, b_shared=True))
                     for i, m in enumerate(op.groups)]
            return kernels.sequence(f"{len(parts)} x {parts[0].name} (no grouped {cls} kernel "
                                    f"modelled: one kernel per group)", parts)
        b = op.operand_bytes()
        reads = {"A": b["A"], "B": b["B"] + b.get("B_scales", 0.0)}
        rate = cfg.mma_macs_per_sm_cycle[cls] * eff.grouped_mma_efficiency
        return kernels.grouped_gemm(op.groups, op.n, op.k, reads, {"C": b["C"]}, cfg.sms, rate,
                                    self._cycles(eff.grouped_overhead_us * 1e-6), cls,
                                    self._hbm_bytes_per_s() / (self.clock_ghz * 1e9),
                                    eff.grouped_stream_fraction)

    def _vector(self, op: Vector) -> kernels.Kernel:
        name = op.fused or "add" if isinstance(op, LutTables) else op.op
        kind = name if name in VECTOR_KINDS else "add"
        e = self.eff.vector.get(kind) or self.eff.vector["add"]
        b = op.operand_bytes()
        reads = {k: v for k, v in b.items() if k != "out"}
        total = float(sum(b.values()))
        bw = self._cycles(total / (self._hbm_bytes_per_s() * e.bw_fraction))
        flops = op.flops() / (self.config.sms * self.config.fp32_flops_per_sm_cycle)
        return kernels.elementwise(op.op, reads, {"out": b["out"]}, bw, flops,
                                   self._cycles(e.overhead_us * 1e-6))

    def _attention(self, op: FlashAttention) -> kernels.Kernel:
        b = op.operand_bytes()
        reads, writes = {"Q": b["Q"], "K": b["K"], "V": b["V"]}, {"O": b["O"]}
        if op.q_len <= kernels.DECODE_Q:
            e = self.eff.attention_decode
            bw = self._cycles(sum(b.values()) / (self._hbm_bytes_per_s() * e.bw_fraction))
            return kernels.attention_decode(reads, writes, bw, self._cycles(e.overhead_us * 1e-6))
        p = self.eff.attention_prefill
        cls = _MMA.get(dtype(op.dtype).name, "bf16")
        rate = self.config.mma_macs_per_sm_cycle.get(cls, self.config.mma_macs_per_sm_cycle["bf16"])
        return kernels.attention_prefill(
            op.batch, op.heads, op.q_len, op.attended_pairs(), op.head_dim, self.config.sms,
            rate * p.efficiency, self._cycles(p.cta_overhead_us * 1e-6), reads, writes,
            self._cycles(p.overhead_us * 1e-6))
