"""LUT Tensor Core claims that run on the GPU unit with LUT arrays (``units.gpu.lut_tensor_core``).

* Table 1 latencies (E8): BitNet b1.58 3B (W_INT2 = ternary as 2 bit planes) and "LLAMA 3B"
  (the same LLaMA-architecture 3B shape, W_FP16 A_FP16) at BS1 SEQ2048 (one 2048-token
  prefill) and BS1024 SEQ1 (a decode step of 1024 one-token sequences), on the A100 and H100
  configs and their LUT-4X / 8X variants, clock 1.41 GHz (Table 1's normalisation), op
  fidelity. The paper's own simulator is tile-level and unreleased; ours is the calibrated GPU
  kernel model (docs/gpu.md), whose element-wise kernels are what PyTorch takes on an H200.
* Precompute fusion (E9, Sec 4.6.1): the table precompute's share of decoder-layer time on
  A100-LUT-4X, unfused (separate ``lut_tables`` kernels) and fused into the preceding
  element-wise kernels, relative to the same layer with tables for free, on LLaMA-2-70B and
  GPT-3-175B (OPT-175B's shape; BLOOM-176B is not in the zoo), averaged.
* Kernel (E6, Fig 15): GEMM M2048 N27648 K5120, W_INT1 A_FP16: a 1X LUT array per tensor-core
  slot against the A100 FP16 tensor core, time from the GPU model, area from our library.
"""
from __future__ import annotations

from statistics import mean

from ..arch import load_arch
from ..cost.components import KINDS
from ..pipeline import simulate
from ..workload.ops import Gemm
from ..workload.trace import Trace
from ..workload.quant import make_quant
from ..workload.zoo import build_trace
from . import CLAIMS_DIR, Row, row

GPU_DIR = CLAIMS_DIR.parents[1] / "configs" / "gpu"
TABLE1_CLOCK = ["units.gpu.clock_ghz=1.41"]
#: Table 1 rows: (claim prefix, config, weight bits / dtype, activation dtype)
TABLE1 = {
    "T1-1": ("a100_80gb.yaml", 16, "fp16"),           # LLAMA 3B W_FP16 A_FP16
    "T1-2": ("a100_80gb.yaml", 8, "int8"),            # BitNet, W_INT2 held as int8 for the TC
    "T1-3": ("a100_lut_4x.yaml", 1.58, "int8"),
    "T1-4": ("a100_lut_8x.yaml", 1.58, "int8"),
    "T1-5": ("h100_sxm.yaml", "fp8_e4m3", "fp8_e4m3"),
    "T1-6": ("h100_lut_4x.yaml", 1.58, "fp8_e4m3"),
    "T1-7": ("h100_lut_8x.yaml", 1.58, "fp8_e4m3"),
}
SHAPES = {"pre": dict(phase="prefill", batch=1, prompt=2048),
          "dec": dict(phase="decode", batch=1024, ctx=1)}
MODEL = "bitnet-b1.58-3b"

_SLOWER = ("ours is slower: our GPU model prices every kernel as measured (H200 fit), and "
           "element-wise and normalisation kernels take {vec:.0f}% of this run, which a "
           "GEMM-centred tile-level simulator leaves out or makes cheap")
_FASTER = ("ours is faster: the whole run reaches {eff:.0f}% of the tensor-core peak in our "
           "calibrated kernels; the paper's unreleased tile-level simulator implies less at "
           "this shape (its memory and kernel settings are not published)")
_FUSE_CAUSE = ("our table kernel is a memory-bound element-wise kernel (tables of 8 "
               "entries per 4 activations written once, read by the GEMM); the paper's "
               "unfused precompute is far costlier than that, for reasons it does not detail")


def _dev(cfg: str, *more: str):
    return load_arch(GPU_DIR / cfg, overrides=[*TABLE1_CLOCK, *more])


def table1_latency(cid: str, shape: str, paper_ms: float | None = None) -> tuple[float, str]:
    """(latency ms, the likely cause of a difference from ``paper_ms``) of Table 1 row
    ``cid`` at ``shape``."""
    cfg, wbits, act = TABLE1[cid]
    tr = build_trace(MODEL, weight_bits=wbits, act_dtype=act, **SHAPES[shape])
    dev = _dev(cfg)
    r = simulate(dev, tr)
    df = r.per_op
    t = df.cycles                      # one row per op per repeat
    ms = r.latency_s * 1e3
    if paper_ms is not None and ms < paper_ms:
        q = make_quant(wbits, act)
        peak = dev.units["gpu"].peak((q.act, q.weight)).flops * dev.clock_hz
        return ms, _FASTER.format(eff=100 * r.flops / (r.latency_s * peak))
    return ms, _SLOWER.format(vec=100 * t[df.kind.isin(["vector", "lut_tables"])].sum()
                              / t.sum())


def precompute_overhead(model: str, shape: str) -> tuple[float, float]:
    """(unfused, fused) table precompute overhead in % of decoder-layer time (docstring)."""
    tr = build_trace(model, weight_bits=2, act_dtype="int8", **SHAPES[shape])
    layer = {}
    for fused in (False, True):
        df = simulate(_dev("a100_lut_4x.yaml", "mapping.fusion.lut_precompute_fusion="
                           f"{str(fused).lower()}"), tr).per_op
        df = df[df.segment == "layers"]
        layer[fused] = (df, float(df.cycles.sum()))    # one row per op per repeat
    df, unfused = layer[False]
    tables = df[df.kind == "lut_tables"]
    free = unfused - float(tables.cycles.sum())   # tables for free
    return 100 * (unfused / free - 1), 100 * (layer[True][1] / free - 1)


def kernel_e6() -> tuple[float, float]:
    """(LUT 1X area as % of the FP16 MAC tensor core's, MAC time / LUT time) on E6's GEMM."""
    from .lut_tensor_core import NODE, tile_area
    shape = dict(m=2048, n=27648, k=5120, dtype="fp16", b_shared=True)
    def gemm_cycles(dev, op: Gemm) -> float:   # the GEMM kernel alone (not its tables)
        df = simulate(dev, Trace.from_ops("e6", [op])).per_op
        return float(df[df.op == "g"].cycles.sum())

    mac = gemm_cycles(_dev("a100_80gb.yaml"), Gemm("g", **shape))
    lut = gemm_cycles(_dev("a100_80gb.yaml", "units.gpu.lut_tensor_core={units_per_tensor_core:"
                           " 1, act_dtype: fp16}"), Gemm("g", w_dtype="int1", **shape))
    lut_um2 = tile_area(act_dtype="fp16")
    tc_um2 = mac_tc_um2(NODE)
    return 100 * lut_um2 / tc_um2, mac / lut


def mac_tc_um2(node: float, pe: str = "fp16", macs: int = 256) -> float:
    """One MAC tensor core from our library: ``macs`` ``pe`` MACs with 32-bit accumulation.
    A100 FP16: 256 (312 TFLOPs = 108 SMs x 4 TCs x 256 MACs x 2 x 1.41 GHz), A100 INT8: 512,
    H100 FP8: 1024 (the configs' MACs per SM per cycle / 4)."""
    acc = "int32" if pe.startswith("int") else "fp32"
    return macs * KINDS["mac"]({"dtype": pe, "acc": acc}, node).area_um2


#: Table 1 TC compute density rows: claim -> (SMs, peak claim, TC area per SM in mm2 from
#: our library: MAC TCs as 4 x mac_tc_um2, LUT rows as 4 x X tiles)
def table1_density(specs: dict[str, dict], peaks: dict[str, float]) -> list[Row]:
    from .lut_tensor_core import NODE, tile_area
    lut_int8 = tile_area(act_dtype="int8") * 1e-6
    lut_fp8 = tile_area(act_dtype="fp8_e4m3") * 1e-6
    per_sm = {"T1-1": 4 * mac_tc_um2(NODE) * 1e-6,
              "T1-2": 4 * mac_tc_um2(NODE, "int8", 512) * 1e-6,
              "T1-3": 16 * lut_int8, "T1-4": 32 * lut_int8,
              "T1-5": 4 * mac_tc_um2(NODE, "fp8_e4m3", 1024) * 1e-6,
              "T1-6": 16 * lut_fp8, "T1-7": 32 * lut_fp8}
    sms = {"T1-1": 108, "T1-2": 108, "T1-3": 108, "T1-4": 108, "T1-5": 132, "T1-6": 132,
           "T1-7": 132}
    cause = ("our component library against the paper's synthesis (the peak is exact, the "
             "area per SM is ours)")
    return [row(specs[f"{cid}-density"], peaks[cid] / (sms[cid] * per_sm[cid]),
                cause + ("; and the paper's own cell is inconsistent (624 / (108 x 0.312) = "
                         "18.52)" if cid == "T1-2" else ""))
            for cid in per_sm]


def rows(specs: dict[str, dict], peaks: dict[str, float]) -> list[Row]:
    """``peaks``: our Table 1 peaks (TFLOPs or TOPs) by row id (T1-1 ... T1-7)."""
    out: list[Row] = table1_density(specs, peaks)
    lat: dict[tuple[str, str], float] = {}
    for cid in TABLE1:
        for shape in SHAPES:
            spec = specs[f"{cid}-{shape}"]
            ms, cause = table1_latency(cid, shape, spec["value"])
            lat[cid, shape] = ms
            out.append(row(spec, ms, cause))
    out.append(row(specs["LT-23-a100"], lat["T1-1", "dec"] / lat["T1-4", "dec"],
                   "from the latencies above"))
    out.append(row(specs["LT-23-h100"], lat["T1-5", "dec"] / lat["T1-7", "dec"],
                   "from the latencies above"))
    over = {s: [precompute_overhead(m, s) for m in ("llama2-70b", "gpt3-175b")]
            for s in SHAPES}
    for s in SHAPES:
        out.append(row(specs[f"LT-27-{s}-unfused"], mean(u for u, _ in over[s]), _FUSE_CAUSE))
        out.append(row(specs[f"LT-27-{s}-fused"], mean(f for _, f in over[s]), _FUSE_CAUSE))
    area_pct, speed = kernel_e6()
    out.append(row(specs["LT-14-area"], area_pct,
                   "our component library against DC synthesis (see the Table 2 rows)"))
    out.append(row(specs["LT-14-speed"], speed,
                   "our GPU model has no register-file or HMMA-issue limit: the 1X LUT array's "
                   "2x peak (512 W_INT1 MACs per slot against 256 fp16) shows in full, where "
                   "the paper's Accel-Sim run is register-bound"))
    out.append(row(specs["T1-1-area"], 4 * mac_tc_um2(28.0) * 1e-6,
                   "our fp16 MAC (Horowitz 45 nm, scaled) against the paper's synthesis"))
    return out
