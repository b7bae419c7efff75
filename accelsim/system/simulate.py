"""``simulate_system(system, trace)``: a workload on dp x tp x pp devices.

Data parallelism: each of the dp replicas takes an even share of the batch (sharding.py
``replica_share``: the slowest replica's, every token dimension ceil(x / dp)); replicas are
symmetric, so one is simulated: the latency is the slowest replica's, the throughput counts
every replica's tokens (the workload's), the energy is dp x the replica's. Non-MoE layers
have no cross-replica traffic; experts spread across replicas (ep = dp or dp x tp) see every
replica's tokens and their all-to-all spans the replicas' links.

Rank 0's trace is sharded (sharding.py: tensor and expert parallelism with their collectives
as ops on the device's link unit), cut into pipeline stages, and each distinct stage is
simulated once on the device for one microbatch (ranks of a tensor-parallel group are
symmetric; middle stages with the same layer count are identical). The stages are combined by
the pipeline schedule (schedule.py) with the activation send between stages over the network.
Capacity is checked per stage at the full batch (weights / tp, the stage's KV cache).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..engine.capacity import check_capacity
from ..workload.dtypes import dtype
from ..workload.ops import Vector
from ..workload.trace import Trace
from .config import System
from .schedule import bubble_fraction, makespan
from .sharding import microbatch, replica_share, shard, stages
from .topology import collective_seconds


@dataclass
class SystemResult:
    """What a system run reports; ``stages`` holds each distinct stage's SimResult."""

    system: str
    workload: str
    devices: int
    parallelism: dict[str, int]
    latency_s: float
    stage_latency_s: list[float]
    transfer_s: float
    bubble: float
    comm_s: float                      # collectives on the critical path of stage 0
    fits_memory: bool
    capacity: list[Any]
    unsharded_ops: tuple[str, ...]
    stages: list[Any] = field(repr=False, default_factory=list)
    #: one rank's energy per stage for one microbatch (J; NaN where unknown)
    stage_energy_j: list[float] = field(default_factory=list)
    device_area_mm2: float = float("nan")
    #: the workload's tokens (its meta's ``tokens``; every replica's), None where not given
    tokens: float | None = None

    @property
    def tokens_per_s(self) -> float | None:
        """Every replica's tokens (the workload's) over the slowest replica's latency."""
        return self.tokens / self.latency_s if self.tokens and self.latency_s else None

    @property
    def rank_runs(self) -> int:
        """How many times each stage's one-rank, one-microbatch result runs in the system:
        dp replicas x tp ranks x microbatches."""
        p = self.parallelism
        return p.get("dp", 1) * p["tp"] * p["microbatches"]

    @property
    def energy_j(self) -> float:
        """All devices, the whole run: dp x tp ranks x microbatches x each stage's energy."""
        return self.rank_runs * float(sum(self.stage_energy_j))

    def sweep_summary(self) -> dict[str, Any]:
        """A SimResult-like summary for sweeps and tables: stage 0's rank numbers with the
        system's latency, fits, energy (all devices) and area (devices x the device's);
        per-component breakdowns are left out (they are per device)."""
        base = {k: v for k, v in self.stages[0].summary().items()
                if not k.startswith(("energy.", "area.")) and not isinstance(v, dict)}
        clock = self.stages[0].clock_hz
        area = self.devices * self.device_area_mm2
        out = base | {"arch": self.system, "workload": self.workload,
                      "latency_s": self.latency_s, "cycles": self.latency_s * clock,
                      "fits_memory": self.fits_memory, "energy_j": self.energy_j,
                      "area_mm2": area, "devices": self.devices,
                      "collective_s": self.comm_s, "pipeline_bubble": self.bubble,
                      **{f"parallelism.{k}": v for k, v in self.parallelism.items()}}
        out["power_w"] = self.energy_j / self.latency_s if self.latency_s else float("nan")
        out["edp_js"] = self.energy_j * self.latency_s
        for k in ("energy_dynamic_j", "energy_leakage_j", "energy_per_token_j", "tops_per_w",
                  "tops_per_mm2", "peak_tops", "utilization"):
            out.pop(k, None)
        return out

    def summary(self) -> dict[str, Any]:
        return {"system": self.system, "workload": self.workload, "devices": self.devices,
                **{f"parallelism.{k}": v for k, v in self.parallelism.items()},
                "latency_s": self.latency_s, "stage_latency_s": self.stage_latency_s,
                "transfer_s": self.transfer_s, "pipeline_bubble": self.bubble,
                "collective_s": self.comm_s, "fits_memory": self.fits_memory,
                "unsharded_ops": list(self.unsharded_ops)}


def _activation_bytes(stage: Trace) -> float:
    """Bytes a stage hands the next: the last layer op's output (the residual stream)."""
    layers = next(s for s in stage.segments if s.name == "layers")
    last = [o for o in layers.ops if isinstance(o, Vector)][-1]
    return float(last.rows * last.cols * dtype(last.dtype).bytes)


def simulate_system(system: System, workload: Trace, fidelity: str = "op") -> SystemResult:
    """Simulate ``workload`` on ``system`` (module docstring)."""
    from ..pipeline import simulate
    p = system.parallelism
    share = replica_share(workload, p.dp, p.tp, p.ep)
    sharded = shard(share, p.tp, p.ep, p.dp)
    parts = stages(sharded.trace, p.pp)
    results, cache, caps = [], {}, []
    for st in parts:
        key = tuple((s.name, s.repeat) for s in st.segments)
        if key not in cache:
            cache[key] = simulate(system.device, microbatch(st, p.microbatches), fidelity)
            caps.append(check_capacity(system.device, st))   # the full batch stays resident
        results.append(cache[key])
    times = [r.latency_s for r in results]
    transfer = 0.0
    if p.pp > 1:
        link = system.device.units["link"]
        nbytes = _activation_bytes(parts[0]) / p.microbatches
        transfer = collective_seconds(link.dims, "send_recv", nbytes, 2)
    span = makespan(times, p.microbatches, transfer)
    df = results[0].per_op
    comm = float(df.cycles[df.kind == "collective"].sum()) / results[0].clock_hz   # row per repeat
    fits = all(getattr(c, "fits", True) for c in caps)
    distinct = list({id(r): r for r in results}.values())
    from ..cost.estimator import arch_cost
    area = arch_cost(system.device).area_mm2
    return SystemResult(
        system=system.name, workload=workload.name, devices=p.devices,
        parallelism={"dp": p.dp, "tp": p.tp, "pp": p.pp, "ep": p.ep,
                     "microbatches": p.microbatches},
        latency_s=span, stage_latency_s=times, transfer_s=transfer,
        bubble=bubble_fraction(times, p.microbatches, transfer), comm_s=comm,
        fits_memory=fits, capacity=caps, unsharded_ops=sharded.unsharded, stages=distinct,
        stage_energy_j=[float(r.cost.energy_j) if r.cost is not None else float("nan")
                        for r in results], device_area_mm2=area,
        tokens=float(dict(workload.meta)["tokens"]) if "tokens" in dict(workload.meta)
        else None)
