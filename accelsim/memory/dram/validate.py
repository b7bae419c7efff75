"""Our closed forms against DRAMsim3 on the same parameters (experiments/validation/dram/).

``dramsim3_standard`` turns the parameters a DRAMsim3 run used (``dramsim3_timings.csv``, as
DRAMsim3 reads its ini: HBM's tRCDRD, its doubled HBM columns, its defaults) into a
``Standard``; ``compare`` puts our sustained bandwidth and idle latency beside DRAMsim3's for
every (standard, pattern, refresh) and latency case. Targets (issue 13): bandwidth within 10%,
idle latency within 2 cycles.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .closed_form import idle_latency, sustained
from .standard import Standard

BANDWIDTH_TOLERANCE = 0.10
LATENCY_TOLERANCE_CYCLES = 2
VALIDATION_DIR = Path(__file__).resolve().parents[3] / "experiments" / "validation" / "dram"


def _read(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def dramsim3_standard(params: dict[str, str], name: str) -> tuple[Standard, int]:
    """(the Standard, the controller's queue depth) of one DRAMsim3 config's parameters."""
    p = params
    hbm = p["protocol"].startswith("HBM")
    bus, width = int(p["bus_width"]), int(p["device_width"])
    row_bits = int(p["columns"]) * width * (2 if hbm else 1) * max(1, bus // width)
    timing = {k: float(p[k]) if k == "tCK" else int(float(p[k])) for k in (
        "tCK", "CL", "CWL", "tRP", "tRAS", "tRRD_S", "tRRD_L", "tFAW", "tCCD_S", "tCCD_L",
        "tWTR_S", "tWTR_L", "tWR", "tRTP", "tRFC", "tREFI", "tRTRS")}
    timing["tCK_ns"] = timing.pop("tCK")
    timing["tRCD"] = int(p["tRCDRD"] if hbm else p["tRCD"])
    std = Standard.model_validate({
        "standard": name, "description": f"DRAMsim3 {name}", "source": "DRAMsim3 run",
        "organisation": {"channels_per_stack": 1, "bus_bits": bus,
                         "bankgroups": int(p["bankgroups"]),
                         "banks_per_group": int(p["banks_per_group"]), "ranks": int(p["ranks"]),
                         "rows": int(p["rows"]), "row_bytes": row_bits // 8,
                         "burst_length": int(p["BL"]), "address_mapping": p["address_mapping"]},
        "timing": timing})
    return std, int(p["trans_queue_size"])


def compare(folder: Path = VALIDATION_DIR) -> tuple[list[dict], list[dict]]:
    """(bandwidth rows, latency rows): ours, DRAMsim3's, error, within target."""
    params: dict[str, dict[str, str]] = {}
    for r in _read(folder / "dramsim3_timings.csv"):
        params.setdefault(r["standard"], {})[r["key"]] = r["value"]
    stds = {n: dramsim3_standard(p, n) for n, p in params.items()}
    bw = []
    for r in _read(folder / "dramsim3_results.csv"):
        std, q = stds[r["standard"]]
        ours = sustained(std, r["pattern"], r["refresh"] == "on", q).gb_s
        theirs = float(r["bandwidth_gb_s"])
        err = ours / theirs - 1
        bw.append({"standard": r["standard"], "pattern": r["pattern"], "refresh": r["refresh"],
                   "dramsim3_gb_s": theirs, "ours_gb_s": ours, "error": err,
                   "within": abs(err) <= BANDWIDTH_TOLERANCE})
    lat = []
    for r in _read(folder / "dramsim3_latency.csv"):
        std, _ = stds[r["standard"]]
        ours, theirs = idle_latency(std, r["case"]), float(r["latency_cycles"])
        lat.append({"standard": r["standard"], "case": r["case"], "dramsim3_cycles": theirs,
                    "ours_cycles": ours, "difference": ours - theirs,
                    "within": abs(ours - theirs) <= LATENCY_TOLERANCE_CYCLES})
    return bw, lat


def markdown(bw: list[dict], lat: list[dict]) -> str:
    out = ["| standard | pattern | refresh | DRAMsim3 GB/s | ours GB/s | error | within 10% |",
           "|---|---|---|---|---|---|---|"]
    out += [f"| {r['standard']} | {r['pattern']} | {r['refresh']} | {r['dramsim3_gb_s']:.3f} | "
            f"{r['ours_gb_s']:.3f} | {r['error']:+.1%} | {'yes' if r['within'] else 'no'} |"
            for r in bw]
    out += ["", "| standard | case | DRAMsim3 cycles | ours cycles | difference | within 2 |",
            "|---|---|---|---|---|---|"]
    out += [f"| {r['standard']} | {r['case']} | {r['dramsim3_cycles']:g} | {r['ours_cycles']:g} | "
            f"{r['difference']:+g} | {'yes' if r['within'] else 'no'} |" for r in lat]
    return "\n".join(out) + "\n"
