"""``accelsim reproduce lut_tensor_core``: the LUT Tensor Core paper's claims against our models.

* Table 2 ablation: one 512-element tile (M2N64K4), W_INT2 A_INT8, 28 nm, 1 GHz, built four
  ways with ``type: lut_tensor_core`` options: UNPU (2^k-entry tables, tables built in the
  unit), + weight reinterpretation (2^(k-1) entries, negation circuits), + negation
  elimination, + DFG transformation (tables built outside). Area = the unit's logic components
  (no SRAM: the paper synthesises the tile); power = the dynamic energy of a steady-state GEMM
  per second at 1 GHz, plus leakage.
* Table 1 peaks: the unit's ``peak`` (tiles = SMs x 4 TCs x X, clock 1.41 GHz) and the GPU
  unit's for the MAC rows; TC area per SM = 4 x X tiles of our W_INT2 A_INT8 tile.
* DP4 density: a 1 x 1 x 4 LUT tile (A_FP16, W_INT1) and four fp16 MACs.
* TC area per SM of the A100 FP16 TC: 4 x 256 fp16 MACs from our library.
The design-space rows (K sweep, tile shapes, MAC vs LUT) are in lut_tensor_core_dse.py; the
Table 1 latencies, the precompute fusion and the kernel claim (the GPU unit with LUT arrays) in
lut_tensor_core_gpu.py.
"""
from __future__ import annotations

import math

from ..arch.device import arch_from_dict
from ..cost.components import KINDS
from ..cost.estimator import ArchCost
from ..workload.ops import Gemm
from . import PAPERS, Row, row

NODE, CLOCK = 28.0, 1.0
STEADY_K = 4096        # K of the steady-state GEMM that measures power


def _tile_device(**unit) -> object:
    lut = {"type": "lut_tensor_core", "tile": {"m": 2, "n": 64, "k": 4}, "tiles": 1,
           "act_dtype": "int8"} | unit
    return arch_from_dict({"name": "lut-tile", "clock_ghz": CLOCK, "tech_node_nm": NODE,
                           "units": {"lut": lut},
                           "memory": {"dram": {"kind": "hbm2e", "bandwidth_gb_s": 1e6}}})


def _logic(key: str) -> bool:
    return "sram" not in key


def tile_area(**unit) -> float:
    """Area (um2) of one LUT tile's logic (no SRAM: the paper synthesises the tile)."""
    cost = ArchCost(_tile_device(**unit))
    return sum(v for k, v in cost.area_by_component.items() if _logic(k)) * 1e6


def tile_ppa(w_dtype: str = "int2", **unit) -> tuple[float, float]:
    """(area um2, power mW) of one LUT tile's logic at full throughput on ``w_dtype`` weights
    and the tile's own activation format (module docstring)."""
    dev = _tile_device(**unit)
    cost = ArchCost(dev)
    lut = dev.units["lut"]
    t = lut.config.tile
    op = Gemm("g", m=t.m, n=t.n * lut.engines, k=STEADY_K, dtype=lut.config.act_dtype,
              w_dtype=w_dtype, b_shared=True)
    c = lut.cost(op)
    actions = {k: v for k, v in c.actions.items() if "sram" not in k}
    seconds = c.compute_cycles / (CLOCK * 1e9)
    leak = sum(pc.leak_w for pc in cost.units["lut"].components if _logic(pc.key))
    return tile_area(**unit), (cost.op_energy_j("lut", actions) / seconds + leak) * 1e3


def _peak_lut(sms: int, x: int, clock_ghz: float, act: str) -> float:
    dev = arch_from_dict({"name": "gpu-lut", "clock_ghz": clock_ghz, "tech_node_nm": NODE,
                          "units": {"lut": {"type": "lut_tensor_core", "tiles": sms * 4 * x,
                                            "act_dtype": act}},
                          "memory": {"dram": {"kind": "hbm2e", "bandwidth_gb_s": 2039}}})
    return dev.units["lut"].peak((act, "int2")).flops * clock_ghz * 1e9 / 1e12


def _peak_gpu(cfg: str, cls: str) -> float:
    from ..arch import load_arch
    from . import CLAIMS_DIR
    dev = load_arch(CLAIMS_DIR.parents[1] / "configs" / "gpu" / cfg,
                    overrides=["units.gpu.clock_ghz=1.41"])
    return dev.units["gpu"].peak((cls,)).flops * 1.41e9 / 1e12


_AREA_CAUSE = ("our component library (Horowitz 45 nm adders, Aladdin registers, mux2 = 12/28 "
               "of a full-adder bit, scaled to 28 nm) is not calibrated to DC synthesis; "
               "accumulator and shift-adder widths for integer activations are our assumption "
               "(int32), the largest share of our tile")


@PAPERS.register("lut_tensor_core")
def run(data: dict) -> list[Row]:
    specs = {c["id"]: c for c in data["claims"]}
    out: list[Row] = []
    variants = {"UNPU": dict(symmetric=False, precompute="in_unit"),
                "WR": dict(symmetric=True, negation="circuit", precompute="in_unit"),
                "NE": dict(symmetric=True, negation="eliminated", precompute="in_unit"),
                "LUT": dict(symmetric=True, negation="eliminated", precompute="external")}
    ppa = {name: tile_ppa(**kw) for name, kw in variants.items()}
    for name, (area, power) in ppa.items():
        out.append(row(specs[f"T2-{name}-area"], area, _AREA_CAUSE))
        out.append(row(specs[f"T2-{name}-power"], power, _AREA_CAUSE))
    out.append(row(specs["LT-1-area"], ppa["UNPU"][0] / ppa["LUT"][0],
                   "the ablation steps' shares differ from the paper's (see the rows above)"))
    out.append(row(specs["LT-1-power"], ppa["UNPU"][1] / ppa["LUT"][1],
                   "as for the area ratio"))
    out.append(row(specs["T1-1-peak"], _peak_gpu("a100_80gb.yaml", "bf16")))
    out.append(row(specs["T1-2-peak"], _peak_gpu("a100_80gb.yaml", "int8")))
    out.append(row(specs["T1-3-peak"], _peak_lut(108, 4, 1.41, "int8")))
    out.append(row(specs["T1-4-peak"], _peak_lut(108, 8, 1.41, "int8")))
    out.append(row(specs["T1-5-peak"], _peak_gpu("h100_sxm.yaml", "fp8_e4m3")))
    out.append(row(specs["T1-6-peak"], _peak_lut(132, 4, 1.41, "fp8_e4m3")))
    out.append(row(specs["T1-7-peak"], _peak_lut(132, 8, 1.41, "fp8_e4m3")))
    unit_mm2 = ppa["LUT"][0] * 1e-6
    out.append(row(specs["T1-3-area"], 4 * 4 * unit_mm2, _AREA_CAUSE))
    out.append(row(specs["T1-4-area"], 4 * 8 * unit_mm2, _AREA_CAUSE))
    dp4 = _tile_device(tile={"m": 1, "n": 1, "k": 4}, act_dtype="fp16")
    cost = ArchCost(dp4)
    dp4_mm2 = sum(v for k, v in cost.area_by_component.items() if _logic(k)
                  and not k.endswith("scale_mac"))
    out.append(row(specs["LT-10"], 2 * 4 * CLOCK * 1e9 / 1e12 / dp4_mm2, _AREA_CAUSE))
    mac = KINDS["mac"]({"dtype": "fp16", "acc": "fp16"}, NODE)
    out.append(row(specs["LT-11"], 2 * 4 * CLOCK * 1e9 / 1e12 / (4 * mac.area_um2 * 1e-6),
                   "our fp16 MAC area (Horowitz 45 nm, scaled) against the paper's DC "
                   "synthesis"))
    from . import lut_tensor_core_dse, lut_tensor_core_gpu
    out += lut_tensor_core_dse.rows(specs)
    peaks = {r.id.removesuffix("-peak"): r.ours for r in out if r.id.endswith("-peak")}
    out += lut_tensor_core_gpu.rows(specs, peaks)
    assert math.isfinite(sum(r.ours or 0 for r in out))
    return out
