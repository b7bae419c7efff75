"""LUT Tensor Core (``type: lut_tensor_core``): LUT-based mixed-precision GEMM (ISCA'25).

Low-bit weights (int1-int4, ternary as 2 bit planes) times higher-precision activations (fp16,
fp8, int8, int16). Activations are grouped ``tile.k`` at a time along K; the table of their
signed sums (op ``lut_tables``, built outside the GEMM: Sec 3.1.1, pass ``lut_precompute``) is
looked up with the weights' bits as the index (Sec 2.2, 3.1).

Tile (Sec 3.2.2; RTL M2N64K4): ``tile.m`` tables, each entry broadcast to ``tile.n`` mux units;
``tile.m x tile.n`` muxes select one entry per output per cycle for one bit plane of a K-group
of ``tile.k`` weights (Sec 3.2.1: bit-serial, ``W_BIT`` cycles per tile and K-group; the RTL's
FSM counts b_index 0..B_BIT-1). Per tile: m n k / W_BIT MACs per cycle (512 / W_BIT for
M2N64K4). ``tiles`` tiles per core, ``cores`` cores.

Timing of a GEMM M x N x K, W_BIT = b (output-stationary: each output tile's K loop runs on one
tile, its partial sums in the tile's accumulators):
    output tiles  T = ceil(M / tile.m) x ceil(N / tile.n)
    compute       = ceil(T / (tiles x cores)) x ceil(K / tile.k) x b  +  pipeline_depth
DRAM traffic: low-bit weights (N K b / 8 bytes, plus fp16 group scales), tables (M x ceil(K/k)
x entries x entry bytes) and C. When all tables fit ``sram.tables_kb`` both are read once;
else the cheaper of two orders: blocks of table rows that fit (weights read once per block) or
blocks of weight columns that fit ``sram.weights_kb`` (tables read once per block).

Actions (the counts of ``accelsim.functional.lut_counts``, checked against the numpy reference
``lut_mpgemm``): table entry writes into the tile registers (each table once per N-tile),
lookups (one per output, K-group and bit plane), negations (symmetric tables with negation
circuits; none with negation elimination, Sec 3.1.2), accumulate adds, exponent shift-adds
(bit planes above 0), sum corrections, scale MACs, and SRAM bits (weights once per M-tile,
tables once per N-tile, outputs once).
"""
from __future__ import annotations

import math
from typing import Literal

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from ...config.bounds import SaneModel, check_pes
from ...errors import AccelsimError
from ...workload.dtypes import dtype, dtype_choice
from ...workload.lut_ops import LutTables, table_entries
from ...workload.ops import Gemm, Op
from ..base import Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig
from ..registry import register_unit

#: activation dtypes the tile takes (Sec 4.2.2: A in {FP16, INT16, FP8, INT8})
ACT_DTYPES = ("fp16", "bf16", "fp8_e4m3", "int8", "int16")
#: weight dtypes and their bit planes (ternary runs as W_INT2: Table 1)
WEIGHT_PLANES = {"int1": 1, "int2": 2, "int3": 3, "int4": 4, "ternary": 2}
FP16_EXPONENT_BITS = 5   # the bit-plane weighting adds b to the FP16 exponent (RTL)
TILE_SLICES = 64         # the schedule's slices of one op (memory/compute overlap)


def check_act_dtype(v: str) -> str:
    """The dtype name of a LUT activation format (ValueError for pydantic otherwise)."""
    return dtype_choice(v, ACT_DTYPES, "act_dtype")


class _M(SaneModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TileShape(_M):
    m: int = Field(2, gt=0, le=4096, description="tables (activation rows) per tile")
    n: int = Field(64, gt=0, le=65536, description="weight columns each entry is broadcast to")
    k: int = Field(4, ge=1, le=8, description="activations per table (table has 2^(k-1) "
                   "entries symmetrised, else 2^k)")


class LutSram(_M):
    weights_kb: float = Field(64, gt=0, le=1e6, allow_inf_nan=False)
    tables_kb: float = Field(64, gt=0, le=1e6, allow_inf_nan=False)
    outputs_kb: float = Field(64, gt=0, le=1e6, allow_inf_nan=False)


class LutTensorCoreConfig(UnitConfig):
    type: Literal["lut_tensor_core"] = "lut_tensor_core"
    tile: TileShape = TileShape()
    tiles: int = Field(4, gt=0, le=1_000_000, description="LUT tiles per core")
    cores: int = Field(1, gt=0, le=1_000_000)
    symmetric: bool = Field(True, description="table symmetrisation with weight "
                            "reinterpretation (2^(k-1) entries), else 2^k entries (UNPU)")
    negation: Literal["eliminated", "circuit"] = Field(
        "eliminated", description="the sign of a symmetrised lookup: folded into the index "
        "and sign bit offline (eliminated), or a negation circuit per mux")
    act_dtype: str = Field("fp16", description="activation format the tile is built for "
                           "(fp16, bf16, fp8_e4m3, int8, int16); GEMMs with activations of the "
                           "same kind and no more bits run on it")
    table_dtype: Literal["auto", "int8"] = Field(
        "auto", description="table entries: auto = fp16 for float activations (the RTL), "
        "exact sums of act bits + ceil(log2 k) bits for integer ones; int8 = table "
        "quantisation (Sec 3.1.3)")
    @field_validator("act_dtype")
    @classmethod
    def _act(cls, v: str) -> str:
        return check_act_dtype(v)

    precompute: Literal["external", "in_unit"] = Field(
        "external", description="where tables are built: by a separate lut_tables op (the "
        "DFG transformation, Sec 3.1.1), or by a table generator in every tile that rebuilds "
        "each table for each N-tile it serves (UNPU-style, the Table 2 baseline)")
    pipeline_depth: int = Field(2, ge=0, le=1000, description="cycles from the last "
                                "lookup to the result (RTL stage1 + stage2 registers)")
    sram: LutSram = LutSram()

    @model_validator(mode="after")
    def _pe_count(self) -> "LutTensorCoreConfig":
        check_pes(self.tiles * self.cores, "tiles x cores")
        return self


@register_unit("lut_tensor_core")
class LutTensorCoreUnit(Unit):
    """LUT-based mpGEMM: table lookups, bit-serial over weight bits (module docstring)."""

    config_model = LutTensorCoreConfig
    categories = ("gemm", "vector")
    passes = ("lut_precompute",)
    config: LutTensorCoreConfig

    # -- what it runs ---------------------------------------------------------------------------
    @property
    def engines(self) -> int:
        return self.config.tiles * self.config.cores

    def entries(self) -> int:
        return table_entries(self.config.tile.k, self.config.symmetric)

    @property
    def entry_bits(self) -> float:
        """Bits of one table entry (table_dtype): 8, 16 (fp16) or act bits + ceil(log2 k)."""
        cfg = self.config
        act = dtype(cfg.act_dtype)
        if cfg.table_dtype == "int8":
            return 8.0
        return 16.0 if act.is_float else act.bits + math.ceil(math.log2(cfg.tile.k))

    @property
    def acc_dtype(self) -> str:
        """Accumulator: fp16 for float activations (RTL C_BIT = A_LUT_BIT), int32 for int."""
        return "fp16" if dtype(self.config.act_dtype).is_float else "int32"

    def tables_for(self, op: Op) -> LutTables | None:
        """The table precompute ``op`` needs on this unit (None: the unit does not run it, or
        builds its tables itself)."""
        if self.config.precompute == "in_unit" or type(op) is not Gemm or not self.accepts(op):
            return None
        return LutTables(f"{op.name}.tables", rows=op.m * op.batch, cols=op.k,
                         dtype=op.a_dtype, group=self.config.tile.k,
                         symmetric=self.config.symmetric, entry_bits=self.entry_bits,
                         tags=op.tags)

    def planes(self, op: Gemm) -> int:
        return WEIGHT_PLANES[dtype(op.b_dtype).name]

    def check(self, op: Op) -> None:
        if isinstance(op, LutTables):
            if op.fused is not None:
                raise AccelsimError(f"the table precompute fused into {op.fused} runs where "
                                    f"that element-wise op runs (a vector unit)")
            if (op.group, op.symmetric, op.entry_bits) != (
                    self.config.tile.k, self.config.symmetric, self.entry_bits):
                raise AccelsimError(f"tables of group {op.group} (symmetric={op.symmetric}, "
                                    f"{op.entry_bits:g}-bit entries) do not match this unit's "
                                    f"tile.k={self.config.tile.k} (symmetric="
                                    f"{self.config.symmetric}, {self.entry_bits:g}-bit)")
            return
        if not isinstance(op, Gemm) or type(op) is not Gemm:
            raise AccelsimError("runs low-bit-weight GEMMs and their table precompute only")
        a, b = dtype(op.a_dtype).name, dtype(op.b_dtype).name
        if b not in WEIGHT_PLANES:
            raise AccelsimError(f"weights {b} are not low-bit (LUT weights: "
                                f"{', '.join(WEIGHT_PLANES)})")
        built = dtype(self.config.act_dtype)
        if dtype(a).is_float != built.is_float or dtype(a).bits > built.bits:
            raise AccelsimError(f"activations {a} do not fit this unit's act_dtype "
                                f"{built.name}")
        if op.batch != 1 and not op.b_shared:
            raise AccelsimError("a batched GEMM with its own weights per batch element")

    def peak(self, dtypes=()) -> Peak:
        """m n k / W_BIT MACs per tile per cycle; W_BIT from the weight dtype (default int1)."""
        t = self.config.tile
        w = dtypes[1] if len(dtypes) > 1 else "int1"
        planes = WEIGHT_PLANES.get(dtype(w).name, 1)
        return Peak.of_macs(self.engines * t.m * t.n * t.k / planes)

    def components(self) -> list[Component]:
        """Per tile: tables + mux tree per (row, column), sign stage, accumulators,
        exponent shift-adders, weight registers; the three SRAMs."""
        cfg, t = self.config, self.config.tile
        e_bits, acc = self.entry_bits, self.acc_dtype
        n_mux = self.engines * t.m * t.n
        comps = [
            Component("tables", "lut", self.engines * t.m,
                      {"entries": self.entries(), "width_bits": e_bits},
                      {"lut_entry_writes": "write_entry"}),
            Component("mux", "mux", n_mux, {"inputs": self.entries(), "width_bits": e_bits},
                      {"lut_lookups": "select"}),
            Component("accumulator", "adder", n_mux, {"dtype": acc},
                      {"lut_accumulate_adds": "add", "lut_sum_corrections": "add",
                       "lut_group_sum_adds": "add"}),
            Component("shift_add", "shift_add", n_mux,
                      {"bits": FP16_EXPONENT_BITS if acc == "fp16" else 32, "max_shift": 8},
                      {"lut_shift_adds": "op"}),
            Component("weight_regs", "register", self.engines,
                      {"bits": t.k * t.n * 4}, {"lut_weight_reg_bits": "write_bit"}),
            Component("scale_mac", "mac", self.engines, {"dtype": "fp16", "acc": "fp32"},
                      {"lut_scale_macs": "mac"}),
        ]
        if cfg.symmetric and cfg.negation == "circuit":
            comps.append(Component("negation", "adder", n_mux, {"dtype": acc},
                                   {"lut_negations": "add"}))
        if cfg.precompute == "in_unit" and t.k > 1:  # one adder per entry per table, pipelined
            # (k = 1: the table is {0, a} or {a}, nothing to add: a bit-serial ADD array)
            comps.append(Component("table_gen", "adder", self.engines * t.m * self.entries(),
                                   {"dtype": "fp16" if acc == "fp16" else "int16"},
                                   {"lut_table_gen_adds": "add"}))
        for name, kb, width in (("weights", cfg.sram.weights_kb, t.k * t.n),
                                ("tables", cfg.sram.tables_kb, t.m * self.entries() * e_bits),
                                ("outputs", cfg.sram.outputs_kb, t.m * t.n * 16)):
            comps.append(Component(f"{name}_sram", "sram", 1,
                                   {"capacity_bytes": kb * 1024, "width_bits": width},
                                   {f"{name}_sram_read_bits": "read_bit",
                                    f"{name}_sram_write_bits": "write_bit"}))
        return comps

    # -- cost -------------------------------------------------------------------------------------
    def _cost(self, op: Op) -> OpCost:
        if isinstance(op, LutTables):
            return self._precompute(op)
        assert isinstance(op, Gemm)
        return self._gemm(op)

    def _gemm(self, op: Gemm) -> OpCost:
        from ...functional import lut_counts
        cfg, t = self.config, self.config.tile
        M, N, K, b = op.m * op.batch, op.n, op.k, self.planes(op)
        S = math.ceil(K / t.k)
        m_tiles, n_tiles = math.ceil(M / t.m), math.ceil(N / t.n)
        waves = math.ceil(m_tiles * n_tiles / self.engines)
        compute = waves * S * b
        e_bytes = self.entry_bits / 8
        w_bytes = N * K * b / 8 + (math.ceil(K / op.group_size) * N * 2.0 if op.group_size else 0)
        tab_bytes = (M * S * self.entries() * e_bytes if cfg.precompute == "external"
                     else op.operand_bytes()["A"])   # in-unit tables: A itself is read
        c_bytes = op.operand_bytes()["C"]
        w_reads, t_reads = self._reuse(w_bytes, tab_bytes, M, N, t)
        n = max(1, min(TILE_SLICES, waves * S))
        per = np.full(n, compute / n)
        tiles = TileSchedule(compute=per, traffic=(
            Traffic("A", read=np.full(n, tab_bytes * t_reads / n)),
            Traffic("B", read=np.full(n, w_bytes * w_reads / n)),
            Traffic("C", write=np.full(n, c_bytes / n))), tail=float(cfg.pipeline_depth))
        c = lut_counts(M, N, K, b, k=t.k, symmetric=cfg.symmetric, group_size=op.group_size)
        e_bits = 8 * e_bytes
        actions = {
            "lut_entry_writes": float(c.table_builds * n_tiles * self.entries()),
            "lut_lookups": float(c.lookups),
            "lut_accumulate_adds": float(c.accumulate_adds),
            "lut_shift_adds": float(c.shift_adds),
            "lut_sum_corrections": float(c.sum_corrections),
            # the group sums S_g from the tables' all-(+1) entries (the rest of the reference's
            # precompute adds are the lut_tables op's)
            "lut_group_sum_adds": float(c.precompute_adds - c.table_entries_written
                                        * (t.k - 1)),
            "lut_scale_macs": float(c.scale_macs),
            "lut_weight_reg_bits": float(N * S * t.k * b * m_tiles),
            "weights_sram_read_bits": float(N * S * t.k * b * m_tiles),
            "weights_sram_write_bits": 8 * w_bytes * w_reads,
            "tables_sram_read_bits": float(c.table_builds * self.entries() * e_bits * n_tiles),
            "tables_sram_write_bits": 8 * tab_bytes * t_reads,
            "outputs_sram_write_bits": 8 * c_bytes,
            "outputs_sram_read_bits": 8 * c_bytes,
        }
        if cfg.symmetric and cfg.negation == "circuit":
            actions["lut_negations"] = float(c.negations)
        if cfg.precompute == "in_unit" and t.k > 1:  # each N-tile rebuilds its tables (3.1.1)
            actions["lut_table_gen_adds"] = float(c.table_entries_written * (t.k - 1) * n_tiles)
        macs = float(M * N * K)
        return OpCost(self.name, tiles, macs, 2 * macs,
                      {"sram_read": (w_bytes * w_reads + tab_bytes * t_reads + c_bytes),
                       "sram_write": (w_bytes * w_reads + tab_bytes * t_reads + c_bytes)},
                      actions, self.peak((op.a_dtype, op.b_dtype)),
                      detail={"waves": float(waves), "k_groups": float(S), "bit_planes": float(b),
                              "weight_reads": float(w_reads), "table_reads": float(t_reads)},
                      kernel=f"lut {t.m}x{t.n}x{t.k}, {b} bit plane(s), {waves} wave(s) of "
                             f"{self.engines} tiles")

    def _reuse(self, w_bytes: float, tab_bytes: float, M: int, N: int,
               t: TileShape) -> tuple[int, int]:
        """(times the weights are read, times the tables are read) from DRAM (docstring)."""
        cfg = self.config
        tab_cap, w_cap = cfg.sram.tables_kb * 1024, cfg.sram.weights_kb * 1024
        if tab_bytes <= tab_cap:
            return 1, 1
        rows_fit = max(t.m, int(tab_cap / (tab_bytes / M)) // t.m * t.m)
        cols_fit = max(t.n, int(w_cap / (w_bytes / N)) // t.n * t.n)
        by_rows = (math.ceil(M / rows_fit), 1)     # weights re-read per block of table rows
        by_cols = (1, math.ceil(N / cols_fit))     # tables re-read per block of weight columns
        cost = lambda r: w_bytes * r[0] + tab_bytes * r[1]  # noqa: E731
        return min(by_rows, by_cols, key=cost)

    def _precompute(self, op: LutTables) -> OpCost:
        """Tables built on the unit: each tile builds ``tile.m`` tables per cycle (a
        per-tile precompute adder tree, as UNPU-style designs have)."""
        t = self.config.tile
        tables = op.tables()
        cycles = math.ceil(tables / (t.m * self.engines))
        b = op.operand_bytes()
        n = max(1, min(TILE_SLICES, cycles))
        reads = [Traffic(name, read=np.full(n, v / n)) for name, v in b.items() if name != "out"]
        tiles = TileSchedule(compute=np.full(n, cycles / n),
                             traffic=(*reads, Traffic("out", write=np.full(n, b["out"] / n))),
                             tail=float(self.config.pipeline_depth))
        return OpCost(self.name, tiles, 0.0, op.flops(), {}, {
            "lut_accumulate_adds": float(op.table_adds()),
            "tables_sram_write_bits": 8 * b["out"]}, Peak.of_flops(
                t.m * self.engines * op.entries * (op.group - 1)),
            kernel=f"table precompute on the LUT unit, {tables} tables")
