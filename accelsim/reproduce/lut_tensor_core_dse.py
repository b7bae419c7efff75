"""LUT Tensor Core design-space claims, from the ``lut_tensor_core`` unit's components alone.

* E1, K sweep (Sec 4.2.1, Fig 11): a dot-product unit (M = N = 1) with W_INT1 weights, K = 2..8;
  compute density = 2K FLOPs per cycle at 1 GHz over the unit's logic area (table registers,
  2^(K-1):1 mux, accumulator, shift-add, weight registers; the per-group scale multiplier is
  left out as in the DP4 rows). The paper's optimum: K = 4 for INT activations, K = 5 for FP.
* E4, tile shape (Sec 4.2.2, Fig 14): every M x N x K = 512 with M, N powers of two and
  K in 1..8, W_INT2 A_INT8: the density of M2N64K4 against the best shape's (the paper: it is
  the best).
* E3, weight-bit scaling (Sec 4.2.1, Fig 13): four DP4 units (M = 1, N = 4, K = 4: 16 weight
  elements per cycle at W_INT1, A_FP16) built as a bit-serial ADD array (the LUT unit at K = 1:
  one add per weight bit), a conventional LUT (full 2^K table built in every unit), and the
  LUT Tensor Core, against 16 fp16 MACs. The bit-serial designs' density falls as 1/W_BIT,
  the MAC's does not (dequantised weights), so each crosses the MAC at W* = its W_INT1
  density / the MAC's (the paper: ADD and conventional LUT at 2 bits, LUT TC at 6).
* E4, W_INT1 against a MAC tensor core (Sec 4.2.2): the 512-element M2N64K4 LUT tile
  (W_INT1 A_FP16: 512 MACs per cycle) against 512 fp16 MACs, area and power at 28 nm, 1 GHz
  (the paper: 4-6x less of both).
"""
from __future__ import annotations

from ..cost.components import KINDS
from . import Row, row
from .lut_tensor_core import CLOCK, NODE, tile_area, tile_ppa

K_RANGE = range(2, 9)
ELEMENTS = 512


def dp_density(k: int, act: str) -> float:
    """TFLOPs/mm2 of a 1 x 1 x k W_INT1 dot-product unit (docstring)."""
    mm2 = logic_um2(tile={"m": 1, "n": 1, "k": k}, act_dtype=act) * 1e-6
    return 2 * k * CLOCK * 1e9 / 1e12 / mm2


def best_k(act: str) -> int:
    return max(K_RANGE, key=lambda k: dp_density(k, act))


#: E3's DP4 arrays (M = 1, N = 4, 16 weight elements per cycle at W_INT1)
DP4_ARRAYS = {
    "add": dict(tile={"m": 1, "n": 4, "k": 1}, tiles=4, symmetric=False, precompute="in_unit"),
    "conventional": dict(tile={"m": 1, "n": 4, "k": 4}, symmetric=False, precompute="in_unit"),
    "lut_tc": dict(tile={"m": 1, "n": 4, "k": 4}, symmetric=True, negation="eliminated",
                   precompute="external"),
}


def logic_um2(**unit) -> float:
    """A LUT unit's logic area without the per-group scale multiplier (um2)."""
    from .lut_tensor_core import _tile_device, _logic
    from ..cost.estimator import ArchCost
    cost = ArchCost(_tile_device(**unit))
    return sum(v for key, v in cost.area_by_component.items()
               if _logic(key) and not key.endswith("scale_mac")) * 1e6


def crossover_bits(design: str) -> float:
    """W* where the bit-serial design's density (16 / W_BIT elements per cycle) meets 16 fp16
    MACs' (docstring)."""
    mac_um2 = KINDS["mac"]({"dtype": "fp16", "acc": "fp16"}, NODE).area_um2
    return 16 * mac_um2 / logic_um2(act_dtype="fp16", **DP4_ARRAYS[design])


def shapes() -> list[tuple[int, int, int]]:
    out = []
    for k in range(1, 9):
        if ELEMENTS % k:
            continue
        m = 1
        while m <= ELEMENTS // k:
            n, rest = divmod(ELEMENTS // k, m)
            if not rest and n & (n - 1) == 0:
                out.append((m, n, k))
            m *= 2
    return out


def shape_density(m: int, n: int, k: int) -> float:
    """W_INT2 A_INT8 MACs per cycle per um2 of a tile of this shape (same throughput for
    every shape: 512 / 2 MACs per cycle)."""
    return ELEMENTS / 2 / tile_area(tile={"m": m, "n": n, "k": k}, act_dtype="int8")


def mac_array_ppa(n_macs: int = ELEMENTS) -> tuple[float, float]:
    """(area um2, power mW) of ``n_macs`` fp16 MACs (fp16 accumulation, as the DP4 row) at one
    MAC each per cycle at 1 GHz."""
    mac = KINDS["mac"]({"dtype": "fp16", "acc": "fp16"}, NODE)
    return n_macs * mac.area_um2, n_macs * (mac.energy("mac") * 1e-12 * CLOCK * 1e9
                                            + mac.leak_w) * 1e3


def rows(specs: dict[str, dict]) -> list[Row]:
    dens = {s: shape_density(*s) for s in shapes()}
    best = max(dens, key=dens.get)
    lut_a, lut_p = tile_ppa("int1", act_dtype="fp16")
    mac_a, mac_p = mac_array_ppa()
    why_k = ("in our library the table registers (2^(K-1) x entry bits, Aladdin registers) "
             "outgrow the shared accumulator one K earlier than in the paper's synthesis")
    return [
        row(specs["LT-E1-int"], best_k("int8"), why_k),
        row(specs["LT-E1-fp"], best_k("fp16"), why_k),
        row(specs["LT-E3-add"], crossover_bits("add"),
            "our fp16 adders (Horowitz, scaled) against the paper's synthesis"),
        row(specs["LT-E3-conventional"], crossover_bits("conventional"),
            "our per-unit table generator (one fp16 adder per entry) is larger than the "
            "paper's, whose design it does not detail"),
        row(specs["LT-E3-lut"], crossover_bits("lut_tc"),
            "our component library against the paper's synthesis"),
        row(specs["LT-E4-shape"], dens[(2, 64, 4)] / dens[best],
            f"our best shape is M{best[0]}N{best[1]}K{best[2]}"),
        row(specs["LT-E4-area"], mac_a / lut_a,
            "our fp16 MAC and LUT components are not calibrated to DC synthesis"),
        row(specs["LT-E4-power"], mac_p / lut_p,
            "our fp16 MAC and LUT components are not calibrated to DC synthesis"),
    ]
