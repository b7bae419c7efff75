"""The MixPE artifact's designs and workloads, rebuilt as accelsim configs and traces.

Designs: the artifact's conf_*.ini as configs/mixpe/*.yaml. Every design runs at 500 MHz,
with SRAM W/A/O 128/256/128 KB, 1024 bits per cycle off chip, output-stationary, 28 nm.
Each design has a main unit and the two helper units of configs/mixpe/mixpe_w4a8.yaml.

Workloads: the shapes in bitfusion/src/benchmarks/*_bench.py of
yuzhang712/mixpe_simulator@7e0d42c. They are linear layers only, at batch 64 x 1 token, so
every GEMM has M = 64. Each decoder block has QKV (3h x h), O (h x h) and an FFN h -> 4h -> h.
"Llama2-13B" is modelled with a 4h FFN, not the real SwiGLU 13824. The ViTs add a 16 x 16
patch-embedding convolution, an im2col GEMM with M = 64 x 196, N = h, K = 3 x 16 x 16.

The artifact tags one precision per layer, on both operands; here those tags become operand
dtypes:

* MixPE W4A8 / W4A16, INT8, FP16: int4 weights with group 128 scales, int8 / fp16
  activations. The baselines dequantise in the loop (``weight_dequant``); MixPE after each
  group.
* BitFusion: the same W4A8 GEMMs. Group-wise weights are dequantised to 8 bits, as the
  artifact's 8-bit tags have it. The artifact tags the O projection 4-bit in half the blocks
  (bitfusion_bench.py: 16 of 32 for OPT). Here those are per-channel W4A4 in every other
  block.
* ANT: W4A8 GEMMs on the ``ant`` unit, with ``int8_fraction`` = floor(L / 5) / L, the
  artifact's share of 8-bit blocks (ant_bench.py).
* OLAccel: W4A8 GEMMs on the ``olaccel`` unit. It has 4-bit dense operands plus outliers; the
  artifact's olaccel_bench.py tags every main layer 4-bit.
* The artifact's extra dequantisation GEMMs are not added: each unit models its own
  dequantisation. For the baselines they are [N/8, K] at activation precision, 1/8 of the
  work; for MixPE, 1/1024.
* ViT patch embedding: W8A8 (int designs) or FP16 (float designs), as tagged. The MixPE-W4A8
  array takes it with ``weight_dtype: int8``, as the artifact runs it on that array at 8 bits.
  OLAccel and MixPE-W4A16 cannot take it, so it runs on the helper 32 x 32 array (same rate as
  the artifact's 32 x 32 at pf 1).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from ..arch import load_arch
from ..pipeline import simulate
from ..workload.ops import Gemm
from ..workload.trace import Segment, Trace
from . import CLAIMS_DIR

CONFIGS = CLAIMS_DIR.parents[1] / "configs" / "mixpe"
BATCH = 64                      # the artifact's batch_size (run_mix.py): every GEMM has M = 64
GROUP = 128                     # gen_bench.py gen_opt_mix(..., 128, ...)


@dataclass(frozen=True)
class Design:
    name: str
    config: str
    unit: str
    act: str                    # activation dtype of its GEMMs


DESIGNS = {d.name: d for d in (
    Design("W4A8", "mixpe_w4a8.yaml", "mixpe", "int8"),
    Design("ANT", "ant_w4a8.yaml", "ant", "int8"),
    Design("BitFusion", "bitfusion_w4a8.yaml", "bitfusion", "int8"),
    Design("INT8", "int8_w4a8.yaml", "int8", "int8"),
    Design("W4A16", "mixpe_w4a16.yaml", "mixpe", "fp16"),
    Design("FP16", "fp16_w4a16.yaml", "fp16", "fp16"),
    Design("OLAccel", "olaccel_w4a8.yaml", "olaccel", "int8"),
)}
#: the artifact's table order (results/mixpe_res.csv), then OLAccel (conf present, run off)
ORDER = ("W4A8", "ANT", "BitFusion", "INT8", "W4A16", "OLAccel")


@dataclass(frozen=True)
class ArtifactModel:
    key: str
    label: str
    blocks: int
    hidden: int
    patch_embed: bool = False


MODELS = {m.key: m for m in (
    ArtifactModel("vit", "ViT (12 x 768)", 12, 768, True),
    ArtifactModel("vith", "ViT-Huge (32 x 1280)", 32, 1280, True),
    ArtifactModel("opt", "OPT-6.7B (32 x 4096)", 32, 4096),
    ArtifactModel("llama", "Llama2-13B as modelled (40 x 5120, 4h FFN)", 40, 5120),
)}


def int8_blocks(blocks: int) -> int:
    """Decoder blocks the artifact's ANT keeps at 8 bits: floor(n / 5)."""
    return blocks // 5


def _linear(model: ArtifactModel, d: Design, o_w4a4: bool = False) -> tuple[Gemm, ...]:
    h = model.hidden

    def g(name: str, n: int, k: int, w4a4: bool = False) -> Gemm:
        if w4a4:   # the artifact's 4-bit O projection on BitFusion: per-channel W4A4
            return Gemm(name, m=BATCH, n=n, k=k, dtype="int4", w_dtype="int4",
                        out_dtype=d.act, b_shared=True)
        return Gemm(name, m=BATCH, n=n, k=k, dtype=d.act, w_dtype="int4", out_dtype=d.act,
                    group_size=GROUP, b_shared=True)

    return (g("qkv_proj", 3 * h, h), g("o_proj", h, h, o_w4a4), g("fc1", 4 * h, h),
            g("fc2", h, 4 * h))


def patch_embed(model: ArtifactModel, d: Design) -> Gemm:
    """The 16 x 16 patch-embedding convolution as its im2col GEMM, at the artifact's tag."""
    a = "fp16" if d.act == "fp16" else "int8"
    on_main = d.name not in ("OLAccel", "W4A16")
    return Gemm("patch_embed", m=BATCH * 14 * 14, n=model.hidden, k=3 * 16 * 16, dtype=a,
                w_dtype=a, out_dtype=a, b_shared=True,
                tags=(("unit", d.unit),) if on_main else ())


def artifact_trace(model_key: str, design: str) -> Trace:
    """The artifact's workload ``model_key`` for ``design`` (module docstring)."""
    m, d = MODELS[model_key], DESIGNS[design]
    segs: list[Segment] = []
    if m.patch_embed:
        segs.append(Segment("embed", (patch_embed(m, d),), 1))
    if design == "BitFusion":
        half = m.blocks // 2
        segs += [Segment("blocks_o8", _linear(m, d), m.blocks - half),
                 Segment("blocks_o4", _linear(m, d, o_w4a4=True), half)]
    else:
        segs.append(Segment("blocks", _linear(m, d), m.blocks))
    return Trace(f"mixpe-artifact-{model_key}-{design}", tuple(segs))


def overrides(model_key: str, design: str) -> tuple[str, ...]:
    m = MODELS[model_key]
    if design == "ANT":
        return (f"units.ant.int8_fraction={int8_blocks(m.blocks) / m.blocks!r}",)
    if design == "W4A8" and m.patch_embed:
        return ("units.mixpe.weight_dtype=int8",)
    return ()


@dataclass(frozen=True)
class Outcome:
    """One design on one workload: cycles, energy (J) and where they went."""

    cycles: float
    energy_j: float
    dram_j: float
    dram_read_bytes: float
    area_mm2: float


@lru_cache(maxsize=None)
def run_artifact(model_key: str, design: str) -> Outcome:
    """``design`` on the artifact's ``model_key`` workload, in the artifact's setup."""
    dev = load_arch(CONFIGS / DESIGNS[design].config, overrides=list(overrides(model_key,
                                                                              design)))
    return outcome(simulate(dev, artifact_trace(model_key, design)))


def outcome(r) -> Outcome:
    s = r.summary()
    dram = sum(v for k, v in r.cost.energy_by_component.items() if k.startswith("dram"))
    return Outcome(float(r.cycles), float(s["energy_j"]), float(dram),
                   float(s["bytes"]["dram_read"]), float(s["area_mm2"]))


def weight_bytes(model_key: str) -> float:
    """int4 weights plus their fp16 group scales of the artifact's linear layers."""
    m = MODELS[model_key]
    per_block = 12 * m.hidden * m.hidden
    return m.blocks * per_block * (0.5 + 2.0 / GROUP)
