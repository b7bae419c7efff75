"""Table B of ``accelsim reproduce mixpe``: our physically grounded model beside the artifact.

What changes from Table A (the artifact's setup on our units):

* Iso-area. Every design's main array is sized by ``accelsim.dse.sizing.size_to_area``. Rows
  and columns scale together from the artifact's shape, to the largest design within one
  budget. The budget is the area of the artifact-setup FP16 design (32 x 28 fp16 MACs, its
  SRAMs and the helper units) in our library, so FP16 keeps its shape. SRAMs, clock, DRAM and
  the helper units stay as in Table A, so all designs share them.
* Workload. The zoo's LLaMA-2-13B (``accelsim.workload.zoo.build_trace``): its SwiGLU FFN
  (gate/up 2 x 13824, down 13824 -> 5120), attention, norms and the bf16 / fp16 LM head, at
  one decode step of batch 64 (M = 64, as in the artifact) and context ``CTX``. Weights are
  int4 with group-128 scales; activations int8 (W4A8 designs) or fp16 (W4A16, FP16).
  Attention and the LM head run on the shared 32 x 32 helper array, norms and element-wise ops
  on the vector unit.
* Energy and area. Per-PE energy and area come from our technology library, for each design's
  own PE, where the artifact gives MixPE-W4A8 the INT8 PE's synthesised power.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..arch import load_arch
from ..config import load_document
from ..dse.sizing import area_mm2, size_to_area
from ..pipeline import simulate
from ..workload.zoo import build_trace
from .mixpe_workloads import CONFIGS, DESIGNS, GROUP, Outcome, outcome

MODEL = "llama2-13b"
BATCH = 64
CTX = 128      # a short context: the linear layers stay the bulk of a step (docs/mixpe.md)


@dataclass(frozen=True)
class Sized:
    design: str
    rows: int
    cols: int
    area_mm2: float
    outcome: Outcome
    #: cycles the helper units spend (attention, LM head, vector ops), summed over ops
    helper_cycles: float


@lru_cache(maxsize=1)
def budget_mm2() -> float:
    """The iso-area budget: the artifact-setup FP16 design's area in our library."""
    return area_mm2(load_document(CONFIGS / DESIGNS["FP16"].config, []))


@lru_cache(maxsize=None)
def grounded(design: str) -> Sized:
    """``design`` sized to the budget, on LLaMA-2-13B decode (module docstring)."""
    d = DESIGNS[design]
    knobs = [f"units.{d.unit}.rows", f"units.{d.unit}.cols"]
    doc = load_document(CONFIGS / d.config, [])
    s = size_to_area(doc, budget_mm2(), knobs)
    rows, cols = (s.values[k] for k in knobs)
    dev = load_arch(CONFIGS / d.config, overrides=[f"{knobs[0]}={rows}", f"{knobs[1]}={cols}"])
    tr = build_trace(MODEL, phase="decode", batch=BATCH, ctx=CTX, weight_bits=4,
                     act_dtype=d.act, group_size=GROUP)
    r = simulate(dev, tr)
    df = r.per_op
    helper = float(df.cycles[df.unit != d.unit].sum())
    return Sized(design, rows, cols, s.area_mm2, outcome(r), helper)
