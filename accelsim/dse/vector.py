"""Vectorised analytical evaluation of systolic sweeps over array shape, SRAM sizes and bandwidth.

Issue 16's scale target sweeps one systolic-array device over rows, cols, operand SRAM sizes
and DRAM bandwidth at analytical fidelity. ``SystolicGrid`` evaluates all such points of one
trace at once with numpy, exactly as ``accelsim.simulate`` would one point at a time, by
factorising what each op's time depends on:

* A GEMM's fold classes, streamed lengths and per-class DRAM bytes
  (``SystolicArray._pass``) depend on rows and cols; the SRAM sizes enter only through each
  operand's residency mode (``systolic._residency``: resident / reuse / stream, decided by two
  thresholds per operand). So per op and per distinct (rows, cols) the residency *signature*
  of every SRAM configuration is found vectorised (``_signature``), and the unit's own
  ``_cost`` runs once per distinct (rows, cols, signature), on a representative config: its
  ``OpCost`` is the one every config of that class gets, bit for bit. Where the unit's stream
  plan compares several chunkings (ws/is, streamed dimension longer than the rows) the
  signature is the SRAM triple itself (exact, just less shared).
* The op's analytical latency (``Grouped._compute_parts``: x_0 + sum over adjacent fold-class
  pairs of max(c_a, x_ab) x count + c_last + tail + final write, ``engine.timing``) is
  evaluated for every bandwidth at once, elementwise in the same order; the pair sum is a numpy
  row reduction over the same pair array (numpy's pairwise sum of a contiguous row is the 1-D
  sum's). Ops of other units (the vector unit) depend only on the memory: their closed form
  is taken from the engine per distinct bandwidth.
* The analytical fidelity's chain fast path (``engine.schedule``; every segment of this trace
  is a chain with one candidate per op) runs the ops back to back: per point ``end = start +
  closed form`` in op order, a segment's span its largest end, the total the running sum of
  span x repeat; per-op columns are gathered to the per-row layout of ``assemble.columns`` and
  summed per point as ``SimResult`` sums them.

Columns produced (``SystolicGrid.evaluate``): ``cycles``, ``latency_s``, ``compute_cycles``,
``stall_cycles``, ``macs``, ``flops`` and the ``bytes.*`` levels of ``SimResult.summary``.
Energy, power and area: ``accelsim.dse.vector_cost``; whole rows (keys, configs) and the
experiment-level entry points: ``accelsim.dse.vector_sweep``; ``run_sweep``'s hook:
``accelsim.dse.vector_run``. ``tests/test_dse_vector.py`` compares every produced column with
``accelsim.simulate`` / ``Evaluator.run`` on random points bit for bit.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ..errors import AccelsimError

#: the config fields of the systolic unit the grid may vary (under ``units.<name>.``)
UNIT_AXES = ("rows", "cols", "sram.ifmap_kb", "sram.filter_kb", "sram.ofmap_kb")
#: the memory field it may vary (under ``memory.<name>.``)
MEMORY_AXES = ("bandwidth_gb_s",)
#: per-op columns summed into the ``bytes`` levels, as ``SimResult.bytes_by_level``
_LEVELS = ("dram_read", "dram_write", "sram_read", "sram_write", "buffer_read", "buffer_write")


class NotVectorisable(AccelsimError):
    """The device, trace or fidelity is outside what ``SystolicGrid`` evaluates exactly."""


@dataclass(frozen=True)
class _OpSlot:
    """One op of the reference plan (segment ``run``, position ``pos``) and its only
    candidate; ops on the systolic unit are re-costed per config, the others kept."""

    run: int
    pos: int
    op: Any
    placement: dict
    candidate: Any


@dataclass(frozen=True)
class _Context:
    """The last ``evaluate``'s unique unit configs (rows, cols, ifmap, filter, ofmap KiB), the
    config of each point, and per op (plan order): its unit, per group its (OpCost, Prepared),
    the group of each unique config, and its segment's repeat count."""

    ucfg: np.ndarray
    u_of: np.ndarray
    units: list
    costs: list
    grp_of: list
    repeat: list


class SystolicGrid:
    """All points of one systolic device x trace at analytical fidelity (module docstring).

    ``arch`` is the base device (one unit of ``type: systolic_array``, named ``unit``; its
    other units are left as they are), ``trace`` the workload before the policy's rewrite.
    """

    def __init__(self, arch: Any, trace: Any, unit: str | None = None,
                 memory: str | None = None, fidelity: str = "analytical") -> None:
        from ..arch.units.systolic import SystolicArray
        from ..engine.fidelities import fidelity as make_fidelity
        from ..engine.plan import plan
        from ..engine.policies import make_policy
        if hasattr(arch, "parallelism"):
            raise NotVectorisable("a multi-device system")
        sas = [n for n, u in arch.units.items() if isinstance(u, SystolicArray)]
        if unit is None:
            if len(sas) != 1:
                raise NotVectorisable(f"needs exactly one systolic_array unit, found {sas}")
            unit = sas[0]
        if unit not in sas:
            raise NotVectorisable(f"unit {unit!r} is not a systolic_array")
        if any(u.context_key() != () for u in arch.units.values()):
            raise NotVectorisable("a unit's costs depend on its memory")
        self.arch, self.unit = arch, unit
        self.memory = memory or arch.unit_memory(unit)
        mcfg = arch.memory_configs[self.memory]
        if getattr(mcfg, "bandwidth_gb_s", None) is None:
            raise NotVectorisable(f"memory {self.memory!r} has no bandwidth_gb_s")
        self.fid = make_fidelity(fidelity)
        if not chain_is_closed_form(self.fid):
            raise NotVectorisable(f"fidelity {fidelity!r}: an op's time alone in a chain is "
                                  "not its closed form")
        self.workload = make_policy(arch.policy_config, arch).rewrite(trace)
        self.plans = plan(arch, self.workload, self.fid)
        self.slots: list[list[_OpSlot]] = []
        for j, sp in enumerate(self.plans):
            if not sp.chain or any(len(p.candidates) != 1 for p in sp.ops):
                raise NotVectorisable(f"segment {sp.segment.name!r} is not a chain of ops "
                                      "with one candidate each")
            self.slots.append([_OpSlot(j, i, p.op, dict(p.placement), p.candidates[0])
                               for i, p in enumerate(sp.ops)])
        self._tpc = arch.ticks_per_cycle(unit)
        self._base_unit = arch.units[unit]
        rows_of = [np.tile(np.arange(len(s)), sp.segment.repeat)
                   for s, sp in zip(self.slots, self.plans)]
        base = np.cumsum([0] + [len(s) for s in self.slots[:-1]])
        self.op_of_row = np.concatenate([r + b for r, b in zip(rows_of, base)])
        from ..engine.capacity import check_capacity
        cap = check_capacity(arch, trace)
        #: columns equal at every point (they depend on the trace, the clock and the main
        #: memory's capacity only), as ``SimResult.summary`` reports them
        self.constants = {"ops": float(len(self.op_of_row)), "clock_hz": float(arch.clock_hz),
                          "fits_memory": float(cap.fits), "resident_bytes":
                          float(cap.resident_bytes)}

    # -- per unique value: memories, unit configs ------------------------------------------
    def _memories(self, bandwidths: np.ndarray) -> list[dict[str, Any]]:
        """The device's memories at each bandwidth (built as the per-point path builds them)."""
        from ..memory import MEMORIES
        a = self.arch
        out = []
        for bw in bandwidths:
            cfg = a.memory_configs[self.memory].model_copy(
                update={"bandwidth_gb_s": _plain(bw)})
            mems = dict(a.memories)
            mems[self.memory] = MEMORIES.get(cfg.type)(self.memory, cfg, a.config.clock_ghz)
            out.append(mems)
        return out

    def _unit(self, r: int, c: int, sram: tuple[float, float, float]) -> Any:
        """The systolic unit at these rows, cols and SRAM KiB (validated; memoised)."""
        key = (r, c) + tuple(float(x) for x in sram)
        memo = self.__dict__.setdefault("_units", {})
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = self._new_unit(r, c, sram)
        return hit

    def _new_unit(self, r: int, c: int, sram: tuple[float, float, float]) -> Any:
        from ..arch.units.systolic import SystolicArray
        cfg = self._base_unit.config
        new = type(cfg).model_validate({
            **cfg.model_dump(), "rows": r, "cols": c,
            "sram": {**cfg.sram.model_dump(), "ifmap_kb": sram[0], "filter_kb": sram[1],
                     "ofmap_kb": sram[2]}})
        return SystolicArray(self.unit, new)

    # -- evaluation -----------------------------------------------------------------------
    def evaluate(self, rows: Any, cols: Any, ifmap_kb: Any, filter_kb: Any, ofmap_kb: Any,
                 bandwidth_gb_s: Any, chunk: int = 1 << 15) -> dict[str, np.ndarray]:
        """Summary columns of every point (arrays of one value per point, same length)."""
        from ..engine.timing import Prepared
        vals = [np.asarray(v) for v in (rows, cols, ifmap_kb, filter_kb, ofmap_kb,
                                        bandwidth_gb_s)]
        npts = vals[0].shape[0]
        if any(v.shape != (npts,) for v in vals):
            raise AccelsimError("rows, cols, SRAM sizes and bandwidths need one value per point")
        cfgs = np.stack([v.astype(float) for v in vals[:5]], axis=1)
        ucfg, u_of = np.unique(cfgs, axis=0, return_inverse=True)
        ubw, w_of = np.unique(vals[5].astype(float), return_inverse=True)
        u_of, w_of = u_of.reshape(-1), w_of.reshape(-1)
        mems = self._memories(ubw)
        rc, rc_of = np.unique(ucfg[:, :2], axis=0, return_inverse=True)
        rc_of = rc_of.reshape(-1)
        for r, c in rc:
            self._unit(int(r), int(c), tuple(ucfg[0, 2:]))   # invalid shapes fail here, once

        # per op: closed form table (group x bandwidth), the group of each unique config, and
        # the static per-op values (compute ticks, bytes) of each group
        ops = [s for run in self.slots for s in run]
        cf_tab, grp_of, static, costs = [], [], [], []
        for s in ops:
            if s.candidate.unit != self.unit:
                cand = s.candidate
                cf_tab.append(np.array([[cand.prepared.closed_form(m) for m in mems]]))
                grp_of.append(np.zeros(ucfg.shape[0], dtype=np.intp))
                static.append([_static_of(cand.cost, cand.prepared, self.arch)])
                costs.append([(cand.cost, cand.prepared)])
                continue
            groups: dict[tuple, int] = {}
            g_of = np.empty(ucfg.shape[0], dtype=np.intp)
            preps = []
            for k, (r, c) in enumerate(rc):
                sel = np.nonzero(rc_of == k)[0]
                unit = self._unit(int(r), int(c), tuple(ucfg[sel[0], 2:]))
                sig = _signature(unit, s.op, ucfg[sel, 2:])
                for q, i in zip(sig, sel):
                    key = (k,) + tuple(q)
                    g = groups.get(key)
                    if g is None:
                        g = groups[key] = len(preps)
                        u = self._unit(int(r), int(c), tuple(ucfg[i, 2:]))
                        cost = u._cost(s.op)
                        preps.append((cost, Prepared.of(cost.tiles, self.arch.unit_memory(
                            self.unit), s.placement, self._tpc)))
                    g_of[i] = g
            bpt = {m: np.array([mm[m].bytes_per_tick for mm in mems]) for m in mems[0]}
            unlimited = {m: mems[0][m].unlimited for m in mems[0]}
            cf_tab.append(np.stack([_closed_forms(p, bpt, unlimited) for _, p in preps]))
            grp_of.append(g_of)
            static.append([_static_of(cst, p, self.arch) for cst, p in preps])
            costs.append(preps)

        # rate-independent columns: per unique config (they do not depend on the bandwidth)
        rows = self.op_of_row
        stat = np.stack([np.array(st)[g] for st, g in zip(static, grp_of)], axis=2)  # U, f, k
        comp_u = np.ascontiguousarray(stat[:, 0, :])
        sums_u = {name: np.ascontiguousarray(stat[:, i, :][:, rows]).sum(axis=1)
                  for i, name in enumerate(_STATIC)}
        out = {"cycles": np.empty(npts), "stall_cycles": np.empty(npts)}
        for lo in range(0, npts, chunk):
            hi = min(npts, lo + chunk)
            self._chunk(out, slice(lo, hi), u_of[lo:hi], w_of[lo:hi], cf_tab, grp_of, comp_u)
        out["latency_s"] = out["cycles"] / self.arch.clock_hz
        #: what ``vector_cost`` prices: unique configs, each op's groups and their costs
        self.context = _Context(ucfg, u_of, [s.candidate.unit for s in ops], costs, grp_of,
                                [sp.segment.repeat for sp, run in zip(self.plans, self.slots)
                                 for _ in run])
        out["compute_cycles"] = sums_u["compute"][u_of]
        for name in ("macs", "flops"):
            out[name] = sums_u[name][u_of]
        for lv in _LEVELS:
            out[f"bytes.{lv}"] = sums_u[f"{lv}_bytes"][u_of]
        return out

    def _chunk(self, out: dict, sl: slice, u: np.ndarray, w: np.ndarray, cf_tab: list,
               grp_of: list, comp_u: np.ndarray) -> None:
        """One chunk of points: the chain schedule and the per-row stall sum (module
        docstring)."""
        n = u.shape[0]
        cyc = np.empty((n, comp_u.shape[1]))
        j = 0
        offset = np.zeros(n)
        for run, sp in zip(self.slots, self.plans):
            now = np.zeros(n)
            ends = []
            for _ in run:
                end = now + cf_tab[j][grp_of[j][u], w]
                cyc[:, j] = end - now
                ends.append(end)
                now = end
                j += 1
            span = np.max(np.stack(ends), axis=0)
            offset = offset + span * sp.segment.repeat
        out["cycles"][sl] = offset
        stall = cyc - comp_u[u]
        out["stall_cycles"][sl] = np.ascontiguousarray(stall[:, self.op_of_row]).sum(axis=1)


#: the per-op static values, in the order ``_static_of`` returns them
_STATIC = ("compute", "macs", "flops") + tuple(f"{lv}_bytes" for lv in _LEVELS)


def _static_of(cost: Any, prep: Any, device: Any) -> tuple[float, ...]:
    """An op's rate-independent per-op columns, as ``assemble._static_columns`` computes them
    (compute in device ticks, MACs, FLOPs, bytes by level)."""
    mems = device.memories
    tot = prep.totals

    def traffic(offchip: bool, which: int) -> float:
        return float(sum(t[which] for m, t in tot.items() if mems[m].offchip == offchip))

    tpc = prep.ticks_per_cycle
    compute = float((np.array([cost.compute_cycles]) * np.array([tpc]))[0])
    return (compute, float(cost.macs), float(cost.flops), traffic(True, 0), traffic(True, 1),
            float(cost.bytes.get("sram_read", 0.0)), float(cost.bytes.get("sram_write", 0.0)),
            traffic(False, 0), traffic(False, 1))


def _closed_forms(prep: Any, bpt: Mapping[str, np.ndarray], unlimited: Mapping[str, bool]
                  ) -> np.ndarray:
    """``prep.closed_form`` at every bandwidth (``bpt[m]``: bytes per tick of memory m, one per
    bandwidth), elementwise in ``Grouped._compute_parts``'s order."""
    from ..engine.timing import Grouped
    nw = next(iter(bpt.values())).shape[0]
    finite = [(m, x) for m, x in prep.xfer.items() if not unlimited[m]]
    if not finite:
        return np.full(nw, prep.compute_ticks())
    if not isinstance(prep, Grouped):
        raise NotVectorisable("a systolic op without fold classes")
    fc = prep.tiles.classes
    pa, _, pn = fc.pairs
    xfer = None
    x0 = np.zeros(nw)
    lw = np.zeros(nw)
    for m, x in finite:
        b = bpt[m]
        t = x[None, :] / b[:, None]
        xfer = t if xfer is None else np.maximum(xfer, t)
        x0 = np.maximum(x0, prep.first[m] / b)
        lw = np.maximum(lw, prep.last[m] / b)
    c, tail = prep.compute, prep.tail
    if not prep.tiles.double_buffered:
        moved = x0 + np.ascontiguousarray(xfer * pn[None, :]).sum(axis=1)
        return moved + fc.total(c) + tail + lw
    overlap = np.ascontiguousarray(np.maximum(c[pa][None, :], xfer) * pn[None, :]).sum(axis=1)
    return x0 + overlap + float(c[fc.last]) + tail + lw


def _signature(unit: Any, op: Any, sram: np.ndarray) -> np.ndarray:
    """Per SRAM configuration (rows of ``sram``: ifmap, filter, ofmap KiB), a vector that is
    equal for two configurations exactly when ``unit._cost(op)`` is (``unit``: the array at
    these rows and cols): the residency mode of A, B and C (``systolic._residency``) for the
    one pass; where the stream plan compares chunkings, the SRAM sizes themselves."""
    cfg = unit.config
    dim = {"ws": "m", "is": "n"}.get(cfg.dataflow)
    t = getattr(op, dim) if dim else 0
    if dim and cfg.stream_tiling and cfg.fold_overlap and unit._preload_hidden \
            and t > cfg.rows:
        return sram
    kb = 1024.0 * (0.5 if cfg.sram.double_buffered else 1.0)
    modes = []
    for (operand, tile), col in zip(_thresholds(unit, op), range(3)):
        usable = sram[:, col] * kb
        modes.append(np.where(operand <= usable, 0, np.where(tile <= usable, 1, 2)))
    return np.stack(modes, axis=1)


def _thresholds(unit: Any, op: Any) -> list[tuple[float, float]]:
    """(whole operand bytes, largest tile bytes) of A, B and C for ``SystolicArray._pass``:
    the two sizes its ``_residency`` compares each operand SRAM's usable bytes with (the same
    products; the largest tile is the first fold's, with min(R, Sr) rows and min(C, Sc)
    columns in use)."""
    from ..workload.dtypes import dtype
    cfg = unit.config
    R, C = cfg.rows, cfg.cols
    sr, sc, _ = unit.mapping(op.m, op.n, op.k)
    ri, cj = min(R, sr), min(C, sc)
    nb = op.batch
    a_b, b_b = dtype(op.a_dtype).bytes, dtype(op.b_dtype).bytes
    if op.group_size:
        b_b += 2.0 / op.group_size
    acc_b = 4.0
    df = cfg.dataflow
    a_n = {"os": ri * op.k, "ws": op.m * ri, "is": ri * cj}[df]
    b_n = {"os": op.k * cj, "ws": ri * cj, "is": ri * op.n}[df]
    c_n = {"os": ri * cj, "ws": op.m * cj, "is": cj * op.n}[df]
    bshare = 1 if op.b_shared else nb
    return [(nb * op.m * op.k * a_b, float(a_n * a_b)),
            (bshare * op.k * op.n * b_b, float(b_n * b_b)),
            (nb * op.m * op.n * acc_b, float(c_n * acc_b))]


def _plain(v: Any) -> Any:
    """A numpy scalar as the int or float an experiment's axis gives."""
    f = float(v)
    return int(f) if f.is_integer() else f


def grid_of_points(exp: Any, points: list, unit: str, memory: str) -> dict[str, np.ndarray]:
    """The per-point arrays ``SystolicGrid.evaluate`` takes, from an experiment's points
    (their values, derived included), the base's values where an axis leaves one fixed."""
    from .point_table import PointTable
    from .space import lookup
    base = exp.bases[points[0].base].doc.data
    names = [f"units.{unit}.{a}" for a in UNIT_AXES] + [f"memory.{memory}.{a}"
                                                      for a in MEMORY_AXES]
    out = {}
    for nm in names:
        if isinstance(points, PointTable) and nm in points.columns:
            out[nm] = points.column(nm, float)
            continue
        default = lookup(base, nm)
        out[nm] = np.array([p.values.get(nm, default) for p in points], dtype=float)
    return out


def chain_is_closed_form(fid: Any) -> bool:
    """Whether ``fid`` runs a chain segment as the closed forms back to back (the scheduler's
    exact fast path with ``Fidelity``'s own ``alone`` and ``finish``): then a chain's schedule
    at that fidelity is the analytical one, bit for bit (``analytical`` and ``op``; not
    ``tile``, whose op alone replays the tile recurrence)."""
    from ..engine.fidelities import Fidelity
    cls = type(fid)
    return bool(cls.fast_path) and cls.alone is Fidelity.alone and cls.finish is Fidelity.finish


def vectorisable_params(params: Any, unit: str, memory: str) -> bool:
    """Whether every swept parameter is one ``SystolicGrid`` varies."""
    ok = {f"units.{unit}.{a}" for a in UNIT_AXES} | {f"memory.{memory}.{a}" for a in MEMORY_AXES}
    return set(params) <= ok


__all__ = ["SystolicGrid", "NotVectorisable", "grid_of_points", "vectorisable_params",
           "chain_is_closed_form",
           "UNIT_AXES", "MEMORY_AXES"]
