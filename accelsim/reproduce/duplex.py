"""``accelsim reproduce duplex``: Duplex (Yun et al., MICRO'24): the hardware, the Fig eval_pim
decode comparison and, through continuous batching (duplex_serving.py), the throughput grid,
the GLaM latencies and the maximum sustained QPS.

Hardware rows: the Logic-PIM area breakdown per stack at the paper's ASAP7 node (7 nm; our
technology library's MACs and SRAM, the paper's TSV figure), its peak TFLOPS, the bank-bundle
bandwidth (memory/dram/bank_bundle.py on the standard duplex_hbm3) and the peak Op/B of
Logic-PIM, BankGroup-PIM and Bank-PIM (configs/duplex/*.yaml).

Fig eval_pim rows (Mixtral, Llama3-70B and OPT-66B on 4 devices, configs/duplex/systems/): one
steady decode-only iteration of ``batch`` requests at the mean context of a (L, L) request,
L + L / 2, on the GPU system (xPU only), Duplex and the Bank-PIM device, both dispatching with
the ``duplex_stage`` policy (MoE layer and decode attention on the PIM in decode-only
iterations); throughput = batch / iteration latency.

Continuous-batching rows (Fig throughput_graph, eval_latency_bar, eval_qps; DX-1..DX-8, DX-11,
DX-22-*): duplex_serving.py's steady-state window for GPU, 2xGPU, Duplex, Duplex+PE and
Duplex+PE+ET, and from the same windows the Fig eval_latency_bar bars (GLaM B64) and the
energy rows (Fig energy_breakdown: per-config FC / Attention / MoE x DRAM / Comp stacks,
DX-15 / DX-16), the xPU priced by the GPU unit's opt-in energy model (0.46 pJ per MAC:
the authors' code charges 0.23 pJ per FLOP).
"""
from __future__ import annotations

import dataclasses
from functools import lru_cache

from . import CLAIMS_DIR, PAPERS, Row, row

ROOT = CLAIMS_DIR.parents[1]
CONFIGS = ROOT / "configs" / "duplex"
#: the paper's node for Logic-PIM's arithmetic and buffers (ASAP7 PDK, FinCACTI at 7 nm) [P Sec 6]
AREA_NODE_NM = 7.0
#: an HBM3 logic die [P Sec 7.5: 17.80 mm2 = 14.71% of it]
LOGIC_DIE_MM2 = 121.0
MIXTRAL = "mixtral-8x7b"
#: the paper's model names -> zoo names (Table 1)
MODELS = {"Mixtral": MIXTRAL, "Llama3": "llama3-70b", "OPT": "opt-66b"}
#: Fig eval_pim's grid: lengths per model, batches 32 / 64
PIM_LENGTHS = {"Mixtral": (256, 1024, 4096), "Llama3": (256, 1024, 4096), "OPT": (256, 512, 1024)}
SYSTEMS = {"gpu": "gpu_4x", "duplex": "duplex_4x", "bank_pim": "bank_pim_4x"}
EVAL_PIM = [(b, L) for b in (32, 64) for L in (256, 1024, 4096)]
#: which xPU the rows use (duplex_serving.XPUS)
PAPER_XPU = ("; the xPU as the authors' simulator times it (configs/duplex/xpu_paper.yaml: every "
             "op max(FLOPs / 989.4 TFLOPS, bytes / 3.352 TB/s), attention unfused, no kernel "
             "overheads)")
#: the sensitivity rows' xPU
CALIBRATED_XPU = ("; sensitivity: our H200-calibrated GPU model as the xPU (configs/duplex/"
                  "xpu.yaml), whose grouped expert GEMMs of 4-16 rows stream the expert weights "
                  "at ~58% of the HBM bandwidth, which lengthens the GPU baseline's MoE layers")
#: the sensitivity rows' PIM timing
IDEAL_PIM = ("; sensitivity: the PIM's bundle reads at the ideal rate of the authors' released "
             "config (use_ramulator: off; bundle_timing: ideal, 4x / 16x the 3.352 TB/s, no "
             "activation, turnaround or refresh) instead of the bank-level DRAM")
#: sensitivity rows (new ids): the claim's row recomputed in another setup
#: (duplex_serving.SETUPS): id suffix, what the claim notes, the cause's note
SENSITIVITY = ("DX-13-b32", "DX-13-b64", "DX-13-duplex", "DX-12-avg", "DX-3", "DX-11")
SETUP_ROWS = {"calibrated": ("calibrated-xpu", "our H200-calibrated xPU", CALIBRATED_XPU),
              "ideal-pim": ("ideal-pim", "the authors' released ideal PIM timing", IDEAL_PIM)}
#: how the energy rows are obtained (duplex_serving.py, configs/duplex/xpu_paper.yaml)
ENERGY = ("the paper's energy model on both systems: FLOPs x 0.23 pJ = MACs x 0.46 pJ (ASAP7, "
          "library kind asap7_fp16_duplex, the authors' power.h; the xPU's opt-in GPU energy "
          "model, with attention's softmax FLOPs as the authors' xPU charges them, and "
          "Logic-PIM's MACs), DRAM "
          "bits at the path's energy (xPU 3.48, Logic-PIM 1.81 pJ/b) + 909 pJ per 1 KB row "
          "activation; dynamic energy only (no static power in the paper's model); plain "
          "Duplex vs the GPU system over the same steady-state window (B x L tokens each)")
#: how the continuous-batching rows are obtained (duplex_serving.py)
WINDOW = ("continuous batching in a steady-state window of one request lifetime (B / 2 mixed "
          "iterations of 2 prompts + B - 2 decodes, L - B / 2 decode-only iterations, contexts "
          "at their mean L + L/2; duplex_serving.py), each iteration simulated at op fidelity "
          "with the duplex_stage policy; Logic-PIM's bundle reads slow the xPU's traffic only "
          "within a shared memory space (bundle_contention: none here, the paper's layout keeps "
          "co-run ops in separate spaces); the PIM's bundle reads on the bank-level DRAM "
          "(all-bank bundle reads under the rank-level constraints, as the paper's modified "
          "Ramulator)")
DECODE_ONLY = ("one steady decode-only iteration at the mean context L + L/2 (no prefill or "
               "mixed iterations); duplex_stage dispatch: the MoE layer (router, experts, "
               "combine) and decode attention on the PIM; the PIM and the xPU never run at "
               "once (plain duplex_stage), so no memory contention; the PIM's bundle reads on "
               "the bank-level DRAM (as the paper's modified Ramulator)")


@lru_cache(maxsize=None)
def _device(config: str):
    from ..arch.device import load_arch
    return load_arch(CONFIGS / f"{config}.yaml")


def _unit(config: str):
    return _device(config).units["lpim"]


#: the EDAP figure's GEMM: FP16, weight 16384 x 4096, Op/B = FLOPs per weight byte = m [P Fig edap]
EDAP_OPB = (1, 2, 4, 8, 16, 32)
EDAP_PIMS = {"bank_pim": "bank_pim", "bankgroup_pim": "bankgroup_pim", "logic_pim": "duplex"}


def edap(opb: int) -> dict[str, float]:
    """EDAP of the FP16 GEMM m = ``opb`` x K 16384 x N 4096 on each PIM device (five stacks),
    normalised to the worst of the three (the figure's normalisation: each Op/B column's
    maximum is 1.00): energy = the unit's action counts priced by the technology library (MACs,
    bundle reads at the path's pJ/bit, buffers), delay = its cost, area = its per-stack
    ``area_breakdown_mm2`` at 7 nm over its stacks."""
    from ..cost.estimator import arch_cost
    from ..workload.ops import Gemm
    raw = {}
    for name, config in EDAP_PIMS.items():
        dev = _device(config)
        u = dev.units["lpim"]
        c = u.cost(Gemm("edap", m=opb, n=4096, k=16384, dtype="fp16"))
        delay_s = c.compute_cycles / (u.clock_ghz * 1e9)
        energy_j = arch_cost(dev).op_energy_j("lpim", c.actions)
        raw[name] = energy_j * delay_s * u.area_breakdown_mm2(AREA_NODE_NM, per_stack=False)["total"]
    worst = max(raw.values())
    return {k: v / worst for k, v in raw.items()}


@lru_cache(maxsize=None)
def decode_throughput(design: str, batch: int, length: int, model: str = MIXTRAL,
                      xpu: str = "paper") -> float:
    """Tokens per second of one decode iteration of ``batch`` (L, L) requests at their mean
    context on ``design`` (a key of ``SYSTEMS``), its devices with the xPU ``xpu``."""
    from ..system import load_system, simulate_system
    from ..workload.zoo import build_trace
    from .duplex_serving import system_overrides
    tr = build_trace(model, phase="decode", batch=batch, ctx=length + length // 2,
                     act_dtype="fp16")
    path = CONFIGS / "systems" / f"{SYSTEMS[design]}.yaml"
    r = simulate_system(load_system(path, system_overrides(path, xpu)), tr)
    return batch / r.latency_s


def speedup(a: str, b: str, batch: int, length: int, model: str = MIXTRAL,
            xpu: str = "paper") -> float:
    return (decode_throughput(a, batch, length, model, xpu)
            / decode_throughput(b, batch, length, model, xpu))


def _noted(spec: dict, ours: float, note: str) -> Row:
    """A row that keeps its note (how ours was obtained) whatever the verdict."""
    r = row(spec, ours, note)
    return r if r.cause else dataclasses.replace(r, cause=note)


@PAPERS.register("duplex")
def run(data: dict) -> list[Row]:
    specs = {c["id"]: c for c in data["claims"]}
    lpim, bg, bank = _unit("duplex"), _unit("bankgroup_pim"), _unit("bank_pim")
    area = lpim.area_breakdown_mm2(AREA_NODE_NM)
    lib = (f"our technology library at {AREA_NODE_NM:g} nm (Stillmaker-scaled Horowitz MACs, "
           f"CACTI-fitted SRAM)")
    std = lpim._dram().standard
    bundle = lpim.bundle()
    out = [
        _noted(specs["DX-19"], area["total"], "TSVs are the paper's 10.89 mm2 (the library has "
               "no TSV model), so this row mostly checks the paper against itself; see "
               "DX-19-logic for our part"),
        _noted(specs["DX-19-logic"], area["total"] - area["tsv"], lib + "; the buffer and "
               "softmax misses below"),
        _noted(specs["DX-19-gemm"], area["gemm"], lib + "; FP16 multiply + FP16 accumulate "
               "(the paper's 'FP16 MACs')"),
        _noted(specs["DX-19-buffers"], area["buffers"], "the library's CACTI fit gives "
               f"{area['buffers'] / 2:.3f} mm2 per MB at 7 nm, the paper's FinCACTI calibrated "
               "to published 7 nm SRAM 1.13 mm2 per MB"),
        _noted(specs["DX-19-softmax"], area["softmax"], "ours is the 128 KB of SRAM plus "
               f"{lpim.config.vector_flops_per_cycle} FP16 vector ALU slots (our assumed rate); "
               "the comparator tree, exponential units and dividers are not modelled"),
        _noted(specs["DX-19-share"], 100 * area["total"] / LOGIC_DIE_MM2,
               f"of a {LOGIC_DIE_MM2:g} mm2 logic die [P Sec 7.5]; TSVs from the paper"),
        _noted(specs["DX-peak"], 2 * lpim.peak().macs * lpim.clock_ghz / 1e3 / lpim.stacks,
               "32 x 512 MACs x 2 FLOPs x 0.65 GHz"),
        _noted(specs["DX-bundle-4x"], bundle.ratio, f"{std.standard}: {bundle.banks_per_bundle}"
               f" banks x {std.organisation.burst_bytes} B per tCCD_L = {std.timing.tCCD_L} tCK "
               f"against {bundle.normal_bytes_per_ck:g} B per tCK on the bus; bound: "
               f"{bundle.bound}"),
        _noted(specs["DX-bundle-stack"], lpim.bandwidth_gb_s(peak=True) / 1e3 / lpim.stacks,
               f"column rate; {lpim.bandwidth_gb_s() / 1e3 / lpim.stacks:.2f} TB/s sustained "
               f"with refresh (1 - tRFC/tREFI)"),
        _noted(specs["DX-opb-logic"], lpim.opb(), "650 MHz MACs against a 1 / (2 x 0.769 ns) = "
               "650.2 MHz column rate"),
        _noted(specs["DX-opb-bankgroup"], bg.opb(), "same units and bundles as Logic-PIM"),
        _noted(specs["DX-opb-bank"], bank.opb(), "16 FP16 MACs per bank per tCCD_L against a "
               "32 B column per bank per tCCD_L"),
        _noted(specs["DX-bank-16x"], bank.bundle().banks_per_bundle * std.organisation.burst_bytes
               / std.timing.tCCD_L / bank.bundle().normal_bytes_per_ck,
               "column rate of all 32 banks of a pseudo-channel"),
        _noted(specs["DX-bank-16x-sustained"], bank.bundle().ratio, "with one bundle of all "
               "banks the ALL-RD -> PRE -> ACT -> RD turnaround (tRTP + tRP + tRCD = 46 tCK per "
               "128 tCK of reads) has no other bundle to hide behind; bound: "
               + bank.bundle().bound),
    ]
    pim_why = DECODE_ONLY + PAPER_XPU
    out += [
        _noted(specs["DX-13-b32"], speedup("bank_pim", "gpu", 32, 4096), pim_why),
        _noted(specs["DX-13-b64"], speedup("bank_pim", "gpu", 64, 256), pim_why),
        _noted(specs["DX-13-duplex"], speedup("duplex", "gpu", 64, 256), pim_why),
    ]
    pim = [speedup("duplex", "bank_pim", b, L) for b, L in EVAL_PIM]
    out += [_noted(specs["DX-12-max"], max(pim), pim_why),
            _noted(specs["DX-12-avg"], sum(pim) / len(pim), pim_why + "; arithmetic mean "
                   "over B32/B64 x L 256/1024/4096")]
    out += _eval_pim_rows(specs)
    out += _serving_rows(specs)
    out += _sensitivity_rows(specs)
    out += _latency_bar_rows(specs)
    out += _energy_rows(specs)
    out += _edap_rows(specs)
    return out


def _serving_rows(specs: dict) -> list[Row]:
    """Fig throughput_graph (the 27-point grid, 4 designs), Fig eval_latency_bar (GLaM B64) and
    Fig eval_qps (Mixtral (4096, 512), batch 128) through the steady-state window."""
    from . import duplex_serving as ds
    g = ds.grid()
    keys = {"2xGPU": "2xgpu", "Duplex": "duplex", "Duplex+PE": "duplex_pe",
            "Duplex+PE+ET": "duplex_pe_et"}
    points = [(n, b, L) for n, (_, ls) in ds.GRID.items() for b in ds.BATCHES for L in ls]
    full = [g[(*p, "Duplex+PE+ET")] for p in points]
    pe = [g[(*p, "Duplex+PE")] / g[(*p, "Duplex")] for p in points]
    et = [g[(*p, "Duplex+PE+ET")] / g[(*p, "Duplex")] for p in points]
    two = [g[(*p, "2xGPU")] for p in points]
    best = points[full.index(max(full))]
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    gpu_why = WINDOW + PAPER_XPU + _gpu_bandwidth_note(ds)
    out = [
        _noted(specs["DX-1"], max(full), gpu_why + f"; our max is at {best[0]} B{best[1]} "
               f"L{best[2]}"),
        _noted(specs["DX-2"], mean(full), gpu_why + "; arithmetic mean over the 27 points"),
        _noted(specs["DX-3"], g[("Mixtral", 32, 4096, "Duplex")], gpu_why),
        _noted(specs["DX-4"], mean(pe), WINDOW + "; +PE moves experts a bank-bundle memory "
               "space (of 4) at a time; with one expert per device (Grok1 on 8-way EP) it has "
               "nothing to split"),
        _noted(specs["DX-5"], max(et), WINDOW + "; +ET only overlaps the attention of the "
               "mixed iterations, which are B / 2 of the window's L iterations"),
        _noted(specs["DX-6"], mean(two), WINDOW + PAPER_XPU + f"; ours {min(two):.2f}-"
               f"{max(two):.2f}"),
    ]
    for p in points:
        for d, k in keys.items():
            spec = specs[f"DX-22-{p[0]}-B{p[1]}-L{p[2]}-{k}"]
            out.append(_noted(spec, g[(*p, d)], gpu_why))
    lat = [ds.window(d, "GLaM", 64, L, L) for d in ("GPU", "2xGPU", "Duplex", "Duplex+PE+ET")
           for L in ds.GRID["GLaM"][1]]
    n = len(ds.GRID["GLaM"][1])
    gpu, two_gpu, dup, full_w = lat[:n], lat[n:2 * n], lat[2 * n:3 * n], lat[3 * n:]
    why = (WINDOW + PAPER_XPU + "; TBT p50 = the decode-only iteration (the window's majority); "
           "E2E = the window time (one request lifetime, no queueing); mean over GLaM B64 L "
           "512/1024/2048" + _gpu_bandwidth_note(ds))
    out += [
        _noted(specs["DX-7"], 100 * mean([1 - d.tbt_p50_s / c.tbt_p50_s for d, c in zip(dup, gpu)]),
               why + "; plain Duplex (the paper's figure value)"),
        _noted(specs["DX-8"], 100 * mean([1 - d.time_s / c.time_s for d, c in zip(full_w, gpu)]),
               why),
        _noted(specs["DX-8-2xgpu"], 100 * mean([1 - d.time_s / c.time_s
                                                for d, c in zip(full_w, two_gpu)]), why),
    ]
    name, l_in, l_out, b = ds.QPS_POINT
    qps = ("maximum sustained Poisson rate = the saturated batch's completion rate B / T of the "
           f"window ({name} ({l_in}, {l_out}), batch {b}); " + WINDOW + PAPER_XPU)
    dup_q = ds.window("Duplex+PE+ET", name, b, l_in, l_out).requests_s
    gpu_q = ds.window("GPU", name, b, l_in, l_out).requests_s
    qps += (f"; Duplex+PE+ET / GPU {dup_q / gpu_q:.2f} (paper 14 / 9 = 1.56); both rates low: "
            f"the window is prefill-heavy ({min(b // 2, l_out)} of {l_out} iterations carry "
            f"{2 * l_in} prompt tokens), where the xPU's GEMMs set the pace")
    out += [_noted(specs["DX-11"], dup_q, qps), _noted(specs["DX-11-gpu"], gpu_q, qps)]
    return out


def _gpu_bandwidth_note(ds) -> str:
    """The share of the xPU's 3.352 TB/s that the GPU system's decode iteration reaches on its
    weights + KV cache (B32, L 1024), measured with the paper's xPU and with our calibrated one
    (the cause of the ratios' gap between the two)."""
    from ..engine.capacity import resident_bytes
    from ..workload.zoo import build_iteration
    parts = {x: [] for x in ds.XPUS}
    for name, devices in (("Mixtral", 4), ("GLaM", 8)):
        L = 1024
        res = resident_bytes(build_iteration(ds.GRID[name][0], decode=((L + L // 2, 32),),
                                             act_dtype="fp16"))
        ideal = (res.get("weights", 0.0) + res.get("kv_cache", 0.0)) / devices / 3.352e12
        for x in ds.XPUS:
            t = ds.window("GPU", name, 32, L, L, x).t_decode_s
            parts[x].append(f"{name} {ideal / t:.0%}")
    return ("; the GPU system's decode iteration moves its weights + KV cache at "
            + " / ".join(parts["paper"]) + " of the xPU's 3.352 TB/s with this xPU (B32, L 1024), "
            "at " + " / ".join(parts["calibrated"]) + " with our H200-calibrated GPU model "
            "(grouped expert GEMMs of few rows, kernel overheads: the sensitivity rows)")


def _sensitivity_rows(specs: dict) -> list[Row]:
    """The ``SENSITIVITY`` claims recomputed in each setup of ``SETUP_ROWS`` (our H200-calibrated
    GPU model as the xPU, configs/duplex/xpu.yaml; the PIM at the released config's ideal
    rate), under new ids ``<id>-<suffix>``: how much of each result is that model choice."""
    from . import duplex_serving as ds
    out = []
    for setup, (suffix, what, note) in SETUP_ROWS.items():
        def spec(i: str) -> dict:
            s = specs[i]
            return {**s, "id": f"{i}-{suffix}", "claim": f"{s['claim']} [sensitivity: {what}]"}
        pim = [speedup("duplex", "bank_pim", b, L, xpu=setup) for b, L in EVAL_PIM]
        name, l_in, l_out, b = ds.QPS_POINT
        values = {
            "DX-13-b32": speedup("bank_pim", "gpu", 32, 4096, xpu=setup),
            "DX-13-b64": speedup("bank_pim", "gpu", 64, 256, xpu=setup),
            "DX-13-duplex": speedup("duplex", "gpu", 64, 256, xpu=setup),
            "DX-12-avg": sum(pim) / len(pim),
            "DX-3": ds.speedup("Duplex", "Mixtral", 32, 4096, setup),
            "DX-11": ds.window("Duplex+PE+ET", name, b, l_in, l_out, setup).requests_s,
        }
        xpu_note = "" if ds.SETUPS[setup][0] != "paper" else PAPER_XPU
        out += [_noted(spec(i), values[i],
                       (WINDOW if i in ("DX-3", "DX-11") else DECODE_ONLY) + xpu_note + note)
                for i in SENSITIVITY]
    return out


def _eval_pim_rows(specs: dict) -> list[Row]:
    """Fig eval_pim: Bank-PIM and Duplex vs the GPU system per (model, batch, L), and the
    ordering on the dense models (Llama3: Duplex ahead; OPT: Bank-PIM ahead)."""
    out = []
    ratio = {}
    for name, model in MODELS.items():
        for b in (32, 64):
            for L in PIM_LENGTHS[name]:
                for design in ("bank_pim", "duplex"):
                    v = speedup(design, "gpu", b, L, model)
                    ratio[(name, b, L, design)] = v
                    out.append(_noted(specs[f"DX-21-{name}-B{b}-L{L}-{design}"], v,
                                      DECODE_ONLY + PAPER_XPU))
    def mean(name: str, a: str, b: str) -> float:
        xs = [ratio[(name, bb, L, a)] / ratio[(name, bb, L, b)]
              for bb in (32, 64) for L in PIM_LENGTHS[name]]
        return sum(xs) / len(xs)
    out += [_noted(specs["DX-14-llama3"], mean("Llama3", "duplex", "bank_pim"), DECODE_ONLY),
            _noted(specs["DX-14-opt"], mean("OPT", "bank_pim", "duplex"), DECODE_ONLY)]
    return out


def _edap_rows(specs: dict) -> list[Row]:
    """The EDAP figure's 18 values and its crossover (the first Op/B where Logic-PIM beats
    Bank-PIM)."""
    why = ("area: our per-stack PIM areas (Logic-PIM with the paper's TSVs; the DRAM-die "
           "variants x 10); the paper does not state which area its EDAP uses; each Op/B is "
           "normalised to its worst design, which reads 1.00 by construction")
    table = {opb: edap(opb) for opb in EDAP_OPB}
    out = [_noted(specs[f"DX-20-{name}-{opb}"], table[opb][name], why)
           for name in EDAP_PIMS for opb in EDAP_OPB]
    cross = next((o for o in EDAP_OPB if table[o]["logic_pim"] < table[o]["bank_pim"]), None)
    out.append(_noted(specs["DX-20"], cross, why) if cross is not None
               else row(specs["DX-20"], None, "Logic-PIM never beats Bank-PIM up to Op/B 32"))
    return out


#: Fig eval_latency_bar's metrics: row-id key -> (what, the window's value)
LATENCY_METRICS = {
    "tbt_p50": lambda w: w.tbt_quantile_s(0.50), "tbt_p90": lambda w: w.tbt_quantile_s(0.90),
    "tbt_p99": lambda w: w.tbt_quantile_s(0.99), "ttft_p50": lambda w: w.ttft_s,
    "e2e_p50": lambda w: w.time_s,
}


def _latency_bar_rows(specs: dict) -> list[Row]:
    """Fig eval_latency_bar: GLaM B64, (L, L) for L in 512 / 1024 / 2048, p50 / p90 / p99 TBT,
    p50 TTFT and p50 E2E of each design over the GPU system's, from the steady-state windows."""
    from . import duplex_serving as ds
    keys = {"2xGPU": "2xgpu", "Duplex": "duplex", "Duplex+PE": "duplex_pe",
            "Duplex+PE+ET": "duplex_pe_et"}
    why = (WINDOW + PAPER_XPU + "; TBT quantiles: nearest rank over the window's L gaps (B / 2 of t_mixed,"
           " the rest t_decode, so p50 and p90 are t_decode and p99 is t_mixed at B64); TTFT = "
           "the joining request's mixed iteration (no queueing); E2E = the window time"
           + _gpu_bandwidth_note(ds))
    out = []
    for metric, f in LATENCY_METRICS.items():
        for L in ds.GRID["GLaM"][1]:
            gpu = f(ds.window("GPU", "GLaM", 64, L, L))
            for d, k in keys.items():
                out.append(_noted(specs[f"DX-24-{metric}-L{L}-{k}"],
                                  f(ds.window(d, "GLaM", 64, L, L)) / gpu, why))
    return out


def _energy_rows(specs: dict) -> list[Row]:
    """Fig energy_breakdown's 27 x 13 values (Duplex's total and both systems' FC / Attention /
    MoE x DRAM / Comp, fractions of the GPU system's total) and the reductions DX-15 (max per
    model) and DX-16 (mean over the 27 configs)."""
    from . import duplex_serving as ds
    out, red = [], {}
    for name, (_, lengths) in ds.GRID.items():
        for b in ds.BATCHES:
            for L in lengths:
                st = ds.energy_stack(name, b, L)
                dup = sum(st["Duplex"].values())
                red[(name, b, L)] = 100 * (1 - dup)
                base = f"DX-23-{name}-B{b}-L{L}"
                out.append(_noted(specs[f"{base}-duplex-total"], dup, ENERGY))
                for design in ("GPU", "Duplex"):
                    for part in ds.PARTS:
                        for kind in ds.KINDS:
                            spec = specs[f"{base}-{design.lower()}-{part.lower()}-{kind.lower()}"]
                            out.append(_noted(spec, st[design][(part, kind)], ENERGY))
    for name in ds.GRID:
        xs = {k: v for k, v in red.items() if k[0] == name}
        at = max(xs, key=xs.get)
        out.append(_noted(specs[f"DX-15-{name.lower()}"], xs[at],
                          ENERGY + f"; our max at B{at[1]} L{at[2]}"))
    out.append(_noted(specs["DX-16"], sum(red.values()) / len(red),
                      ENERGY + "; arithmetic mean over the 27 configs"))
    return out
