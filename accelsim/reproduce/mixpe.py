"""``accelsim reproduce mixpe``: MixPE's artifact tables against our units, and our grounded model.

* Table A, the artifact's setup with our units. The artifact's designs (conf_*.ini: MixPE
  W4A8 64 x 64, W4A16 32 x 32, INT8 32 x 32, FP16 32 x 28, BitFusion 32 x 40, ANT 32 x 32,
  OLAccel 32 x 32 of its (8, 4) PEs) run at 500 MHz, with SRAM W/A/O 128/256/128 KB and
  1024 bits per cycle off chip, as configs/mixpe/*.yaml on our ``mixpe``, ``systolic_array``
  (``weight_dequant``), ``bitfusion``, ``ant`` and ``olaccel`` units. The workloads are the
  artifact's: linear layers at batch 64 x 1 token for ViT, ViT-Huge, OPT-6.7B and its
  4h-FFN "Llama2-13B" (``mixpe_workloads``). Time and energy come from ``accelsim.simulate``,
  normalised to FP16 per model, against results/mixpe_res.csv and the reference's re-run.
  Absolute OPT-6.7B cycles are also compared.
* Table B, our physically grounded model (``mixpe_grounded``): iso-area sizing, the zoo's
  LLaMA-2-13B with attention, our library, beside the artifact's Llama2-13B cells.
* Findings: which baseline, MixPE variant and averaging comes closest, in ours, to the
  abstract's 2.6x speedup and 1.4x energy reduction, for each table.

Every miss carries its cause. None of our constants is tuned to a target.
"""
from __future__ import annotations

import math
from statistics import fmean, geometric_mean

from . import PAPERS, Row, row
from .mixpe_grounded import CTX, budget_mm2, grounded
from .mixpe_workloads import DESIGNS, MODELS, ORDER, run_artifact, weight_bytes

#: the abstract's "state-of-the-art quantization accelerators" among the artifact's designs
BASELINES = ("ANT", "BitFusion", "OLAccel")
VARIANTS = ("W4A8", "W4A16")
#: artifact array shapes (conf_*.ini a x c), for the Table B causes
ARTIFACT_SHAPE = {"W4A8": "64x64", "W4A16": "32x32", "INT8": "32x32", "FP16": "32x28",
                  "BitFusion": "32x40", "ANT": "32x32", "OLAccel": "32x32 (8,4) PEs"}

_DEQ = ("the artifact adds a 1/8-size dequantisation GEMM after every baseline layer, FP16's "
        "included, but only 1/1024 after MixPE's; ours dequantises in the loop at no extra "
        "cycles")
_TIME = {
    "W4A8": "the artifact tags W4A8 layers 4-bit on both operands and packs them 2x2 into its "
            "(8,4) PE, 4 products per PE per cycle on 64x64 (half of its 128 effective rows "
            "idle at M = 64); our MixPE PE forms one shift-add product per cycle, 2x the "
            "artifact's cycles at M = 64; and " + _DEQ,
    "W4A16": "the artifact tags W4A16 layers 8-bit and packs them 2x2 into its (16,8) PE, 4 "
             "products per PE per cycle on 32x32; our MixPE PE forms one, so 32x32 runs at "
             "the 32x28 FP16 array's rate x 32/28; and " + _DEQ,
    "ANT": "the artifact runs ANT's 1/8-size dequantisation GEMM at 8 bits, 4x slower per MAC "
           "than its 4-bit layers; ours re-quantises to ANT's per-channel types, with no "
           "dequantisation in the loop",
    "OLAccel": "the artifact runs OLAccel's 1/8-size dequantisation GEMM at 8 bits, 4x slower "
               "per MAC than its 4-bit layers, and models no outliers; ours has no "
               "dequantisation in the loop and hides the 3% outliers on their own MACs",
    "INT8": "the artifact's tiling optimiser and memory stalls against our fold schedule",
    "BitFusion": "the artifact's tiling optimiser and memory stalls against our fold schedule",
}
_ENERGY = {
    "W4A8": "; and the artifact prices MixPE-W4A8 with the INT8 (8,4) PE's synthesised power at "
            "W4A4 packing (4x fewer cycles, so less static and core energy), ours MixPE's own "
            "PE for 2x the artifact's cycles",
    "W4A16": "; and the artifact's 2x2 packing of W4A16 takes 4x fewer cycles than ours (its "
             "static energy, 0.22 of FP16's, scales with cycles)",
    "BitFusion": "; and our fusion unit (16 bricks and a 4-level shift-add tree) costs more per "
                 "8-bit product than the one (8,4) PE power the artifact gives every INT8-class "
                 "design",
}


def _ratio(o: float, base: float) -> float:
    return o / base if base else math.nan


def _energy_cause(model: str, design: str) -> str:
    fp = run_artifact(model, "FP16")
    return (f"DRAM is {fp.dram_j / fp.energy_j:.0%} of our FP16 energy (the artifact's: 7-13%): "
            f"the systolic traffic model re-reads the activations every column fold (no K "
            f"tiling in os) when they exceed half the ifmap SRAM, {fp.dram_read_bytes / 1e9:.1f}"
            f" GB read for {weight_bytes(model) / 1e9:.1f} GB of weights"
            + _ENERGY.get(design, ""))


def table_a(specs: dict[str, dict]) -> tuple[list[Row], dict, dict]:
    """Table A rows, and our normalised time and energy per (model, design)."""
    out: list[Row] = []
    t: dict[tuple[str, str], float] = {}
    e: dict[tuple[str, str], float] = {}
    for m in MODELS:
        fp = run_artifact(m, "FP16")
        for d in ORDER:
            o = run_artifact(m, d)
            t[m, d], e[m, d] = _ratio(o.cycles, fp.cycles), _ratio(o.energy_j, fp.energy_j)
    for m in (*MODELS, "mean"):
        for d in ORDER:
            ours = fmean(t[k, d] for k in MODELS) if m == "mean" else t[m, d]
            out.append(row(specs[f"T-{m}-{d}"], ours, _TIME[d]))
    for m in MODELS:
        for d in ORDER:
            out.append(row(specs[f"E-{m}-{d}"], e[m, d], _energy_cause(m, d)))
    for d in (*ORDER, "FP16"):
        out.append(row(specs[f"C-opt-{d}"], run_artifact("opt", d).cycles,
                       _TIME.get(d, "the artifact's tiling optimiser, memory stalls and "
                                 "1/8-size dequantisation GEMM against our fold schedule")))
    return out, t, e


def table_b(specs: dict[str, dict]) -> tuple[list[Row], dict, dict]:
    """Table B rows (grounded model), and our normalised latency and energy per design."""
    fp = grounded("FP16")
    out: list[Row] = []
    t, e = {}, {}
    for d in ORDER:
        g = grounded(d)
        t[d] = _ratio(g.outcome.cycles, fp.outcome.cycles)
        e[d] = _ratio(g.outcome.energy_j, fp.outcome.energy_j)
    for kind, vals in (("T", t), ("E", e)):
        for d in ORDER:
            g = grounded(d)
            spec = dict(specs[f"G-{kind}-{d}"])
            spec["claim"] += f" ({g.rows}x{g.cols} at {budget_mm2():.1f} mm2)"
            out.append(row(spec, vals[d], _grounded_cause(d)))
    return out, t, e


def _grounded_cause(d: str) -> str:
    g, fp, mix = grounded(d), grounded("FP16"), grounded("W4A8")
    why = (f"iso-area at {budget_mm2():.1f} mm2 (FP16's area in our library): {g.rows}x"
           f"{g.cols} against the artifact's {ARTIFACT_SHAPE[d]} (FP16 {fp.rows}x{fp.cols}); "
           f"the zoo's LLaMA-2-13B (SwiGLU FFN) at M = 64 with attention at ctx {CTX} and the "
           f"LM head on the shared 32x32 helper array ({g.helper_cycles / g.outcome.cycles:.0%}"
           f" of this design's op cycles); per-PE costs from our library")
    if d == "W4A8":
        i8 = grounded("INT8")
        why += (f"; our MixPE PE (shift-add tree, int32 group accumulator and its shadow) is "
                f"larger than an INT8 MAC, so MixPE-W4A8 gets {mix.rows * mix.cols} PEs "
                f"against INT8's {i8.rows * i8.cols}")
    if g.rows < 64 and 64 % g.rows:
        why += f"; {g.rows} rows: M = 64 takes {math.ceil(64 / g.rows)} row folds"
    return why + "; the artifact's own cell differs for the reasons of Table A"


def _closest(cands: dict[str, tuple[float, float]], target: float, which: int
             ) -> tuple[str, float, float]:
    """The candidate whose ``which`` ratio (0 time, 1 energy) is closest to ``target`` in
    log distance: (label, that ratio, the other ratio)."""
    label = min(cands, key=lambda k: abs(math.log(cands[k][which] / target)))
    return label, cands[label][which], cands[label][1 - which]


def findings(specs: dict[str, dict], t: dict, e: dict, te: dict, ee: dict) -> list[Row]:
    """Closest baseline / MixPE variant / averaging to 2.6x and 1.4x, per table."""
    cands: dict[str, tuple[float, float]] = {}
    for b in BASELINES:
        for v in VARIANTS:
            rt = [t[m, b] / t[m, v] for m in MODELS]
            re_ = [e[m, b] / e[m, v] for m in MODELS]
            cands[f"{b}/{v}, mean of per-model ratios"] = (fmean(rt), fmean(re_))
            cands[f"{b}/{v}, geomean of per-model ratios"] = (geometric_mean(rt),
                                                              geometric_mean(re_))
            cands[f"{b}/{v}, ratio of the 4-model means"] = (
                fmean(t[m, b] for m in MODELS) / fmean(t[m, v] for m in MODELS),
                fmean(e[m, b] for m in MODELS) / fmean(e[m, v] for m in MODELS))
    grounded_c = {f"{b}/{v}": (te[b] / te[v], ee[b] / ee[v])
                  for b in BASELINES for v in VARIANTS}
    out = []
    for tag, c in (("artifact", cands), ("grounded", grounded_c)):
        for key, which, other in (("speedup", 0, "energy"), ("energy", 1, "time")):
            spec = dict(specs[f"F-{key}-{tag}"])
            label, val, oth = _closest(c, spec["value"], which)
            lo = min(x[which] for x in c.values())
            hi = max(x[which] for x in c.values())
            spec["claim"] += (f": {label} (its {other} ratio {oth:.2f}x; {len(c)} candidates, "
                              f"{lo:.2f}-{hi:.2f}x; a post-hoc pick, a finding, not a pass)")
            out.append(row(spec, val, f"no baseline, MixPE variant and averaging of ours "
                                      f"comes within 15% of {spec['value']}x; the closest is "
                                      f"{label}"))
    return out


@PAPERS.register("mixpe")
def run(data: dict) -> list[Row]:
    specs = {c["id"]: c for c in data["claims"]}
    a_rows, t, e = table_a(specs)
    b_rows, tb, eb = table_b(specs)
    out = a_rows + b_rows + findings(specs, t, e, tb, eb)
    assert all(r.ours is not None and math.isfinite(r.ours) for r in out)
    assert set(DESIGNS) >= set(ORDER)
    return out
