"""Sanity anchors: TPU v1 (peak TOPS, floorplan areas) and Eyeriss (data-movement ratios).

* TPU v1 (Jouppi et al., ISCA 2017): 92 TOPS peak; die <= 331 mm^2 whose floorplan (Fig. 2)
  gives the Matrix Multiply Unit 24%, the Unified Buffer 29% and the accumulators 6%.
  ``fit_overhead`` fits the one calibrated constant of the area model, the integration overhead
  (floorplan area / sum of component areas), on MMU + UB together; the MMU/UB split and the
  accumulators are then out-of-sample checks (``tpu_v1``).
* Eyeriss (Chen et al., ISCA 2016): normalised energy per access RF : GLB : DRAM = 1 : 6 : 200
  for 16-bit data. ``eyeriss`` prices a 16-bit register write, a 16-bit read of a 128 KB,
  64-bit, 32-bank global buffer and a 16-bit LPDDR4 access, the Eyeriss-like setup of the
  Timeloop/Accelergy example (45 nm), with the default library.

Run ``python -m accelsim.cost.anchors`` to print both (and the re-fitted overhead).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .components import build
from .estimator import arch_cost
from .techlib import calibration

TPU_V1_YAML = Path(__file__).resolve().parents[2] / "configs" / "tpu_v1.yaml"
TPU_V1_DIE_MM2 = 331.0
TPU_V1_SHARES = {"mmu": 0.24, "unified_buffer": 0.29, "accumulators": 0.06}
TPU_V1_PEAK_TOPS = 92.0
EYERISS_RATIOS = {"register": 1.0, "sram": 6.0, "dram": 200.0}


@dataclass(frozen=True)
class AreaCheck:
    """One floorplan block: our area (mm^2) vs published, and the relative error."""

    block: str
    ours_mm2: float
    published_mm2: float

    @property
    def error(self) -> float:
        return self.ours_mm2 / self.published_mm2 - 1.0


def _tpu_arch(path: str | Path | None = None):  # type: ignore[no-untyped-def]
    from ..arch.system import load_arch
    return load_arch(path or TPU_V1_YAML)


def tpu_v1_raw_mm2(path: str | Path | None = None) -> dict[str, float]:
    """Component areas (mm^2, before the integration overhead) of the TPU v1 blocks."""
    a = arch_cost(_tpu_arch(path)).area_by_component
    return {"mmu": a["mxu.pe_mac"] + a["mxu.pe_regs"], "unified_buffer": a["mxu.ifmap_sram"],
            "accumulators": a["mxu.ofmap_sram"]}


def fit_overhead(path: str | Path | None = None) -> float:
    """Integration overhead that makes MMU + UB match their published share of the die."""
    raw = tpu_v1_raw_mm2(path)
    pub = (TPU_V1_SHARES["mmu"] + TPU_V1_SHARES["unified_buffer"]) * TPU_V1_DIE_MM2
    return pub / (raw["mmu"] + raw["unified_buffer"])


def tpu_v1(path: str | Path | None = None) -> tuple[float, list[AreaCheck]]:
    """(peak TOPS, area checks of MMU, UB and accumulators with the stored overhead)."""
    arch = _tpu_arch(path)
    k = calibration("integration_overhead")
    raw = tpu_v1_raw_mm2(path)
    checks = [AreaCheck(b, raw[b] * k, TPU_V1_SHARES[b] * TPU_V1_DIE_MM2) for b in TPU_V1_SHARES]
    return arch_cost(arch).peak_tops, checks


def eyeriss(node_nm: float = 45.0, dram_kind: str = "lpddr4", banks: int = 32,
            word_bits: int = 16) -> dict[str, float]:
    """Energy (pJ) per ``word_bits`` access of register, global-buffer SRAM and DRAM."""
    reg = build("register", {"bits": word_bits}, node_nm).energy("write_bit") * word_bits
    glb = build("sram", {"capacity_bytes": 128 * 1024, "width_bits": 64, "banks": banks},
                node_nm).energy("read_bit") * word_bits
    dram = build("dram", {"kind": dram_kind}, node_nm).energy("read_bit") * word_bits
    return {"register": reg, "sram": glb, "dram": dram}


def main() -> None:
    peak, checks = tpu_v1()
    print(f"TPU v1 peak: {peak:.2f} TOPS (published {TPU_V1_PEAK_TOPS:g})")
    print(f"integration overhead: stored {calibration('integration_overhead'):.3f}, "
          f"re-fitted {fit_overhead():.3f}")
    raw = tpu_v1_raw_mm2()
    for c in checks:
        print(f"  {c.block:15s} raw {raw[c.block]:7.2f}  ours {c.ours_mm2:7.2f}  published "
              f"{c.published_mm2:7.2f} mm2  error {c.error:+.1%}")
    for banks in (32, 1):
        e = eyeriss(banks=banks)
        r = {k: v / e["register"] for k, v in e.items()}
        print(f"Eyeriss ratios (45 nm, LPDDR4, GLB {banks} bank(s)): register 1 : SRAM "
              f"{r['sram']:.1f} : DRAM {r['dram']:.0f}   (published 1 : 6 : 200); pJ: "
              + ", ".join(f"{k} {v:.3g}" for k, v in e.items()))


if __name__ == "__main__":
    main()
