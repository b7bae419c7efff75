"""``concurrent``: NPU and in-bank PIM together on a dual-row-buffer DRAM (NeuPIMs, ASPLOS'24
Sec 5: each bank has a MEM and a PIM row buffer, so the NPU's reads and the PIM's GEMVs proceed
together), coupled through what the two buffers still share.

What the artifact shares (casys-kaist/NeuPIMs@f299af3, extern/NewtonSim/src): with
``enable_dual_buffer`` (timing.cc, bankstate.cc) the MEM and PIM buffers' row commands no longer
conflict, but the rank's activation window (tRRD, tFAW: timing.cc ``same_rank[G_ACT]`` ->
ACTIVATE = tFAW) and the one command bus (HBM2_8Gb_x128_dualpim.ini: hbm_dual_cmd = False;
a COMP takes a column slot as a READ does, ``same_rank[COMP]`` -> READ = read_to_read_s) stay
shared, and the PIM queue is served first (neupims_command_queue.cc ``GetCommandToIssue``: the
PIM queue before the read/write queues). So, while a PIM GEMV runs on a memory's channels, the
other traffic there gets what the PIM leaves:

    B_npu = B (1 - phi),    phi = max(phi_cmd, phi_act)     (pim_bank.py ``coupling_share``)

phi_cmd the share of column-command slots the GEMV's COMPs hold, phi_act the share of the
activation window its grouped activations hold, per pass of the GEMV at its own rate (derived
from the standard's tFAW, tCCD_S, burst length, tRP and the tile's COMP count). The PIM op
holds phi of the memory's port off the top for as long as it runs (``port_claims``; op
fidelity: the fluid port's ``reserve``, tile fidelity: the bank port's, the same share); its
own vector-in / results-out bytes move through the rest as traffic. Analytical fidelity has no
shared ports, so no coupling (nor any contention) there.

Dispatch is the greedy policy's, with PIM ops first in ``pick`` (their commands have priority).
Overlap of PIM and other traffic needs ``dual_row_buffer: true`` on the PIM unit's memory: a
device without it is a config error (use ``blocked``, the single-row-buffer NPU+PIM).
"""
from __future__ import annotations

from typing import Any, Literal

from . import POLICIES, DispatchState, PolicyConfig
from .blocked import _is_pim
from .greedy import Greedy


class ConcurrentConfig(PolicyConfig):
    type: Literal["concurrent"] = "concurrent"
    redispatch: bool = True


def dual_row_buffer_problems(units: dict[str, Any], memories: dict[str, Any],
                             main_memory: str | None) -> list[tuple[tuple, str]]:
    """(key path, message) for every in-bank PIM unit whose memory lacks a dual row buffer."""
    from ...arch.registry import UNITS
    out = []
    for name, uc in units.items():
        if not getattr(UNITS.get(uc.type), "in_bank_pim", False):
            continue
        mem = getattr(uc, "memory", None) or main_memory
        mc = memories.get(mem) if mem is not None else None
        if not getattr(mc, "dual_row_buffer", False):
            out.append((("scheduling", "type"),
                        f"concurrent needs dual_row_buffer: true on memory {mem}; use "
                        f"blocked (memory {mem} holds PIM unit {name})"))
    return out


class Coupling:
    """The PIM ops' priority shares of their dual-row-buffer memories (module docstring)."""

    def __init__(self, device: Any) -> None:
        self.units = device.units
        by_id = {id(m): n for n, m in device.memories.items()}
        self.memory_of = {n: by_id[id(u.context.memory)] for n, u in device.units.items()
                          if getattr(u, "in_bank_pim", False) and u.context is not None
                          and id(u.context.memory) in by_id
                          and getattr(u.context.memory.config, "dual_row_buffer", False)}
        self._phi: dict[int, float] = {}

    def claims(self, i: int, state: DispatchState) -> dict[str, float]:
        cand = state.cand(i)
        mem = self.memory_of.get(cand.unit)
        if mem is None or not _is_pim(cand):
            return {}
        op = state.seg.ops[i].op
        phi = self._phi.get(id(op))
        if phi is None:
            phi = self._phi[id(op)] = self.units[cand.unit].op_coupling_share(op)
        return {mem: phi} if phi > 0 else {}


@POLICIES.register("concurrent")
class Concurrent(Greedy):
    """Greedy dispatch, PIM ops first; a PIM op holds phi of its memory's port (docstring)."""

    config_model = ConcurrentConfig
    config: ConcurrentConfig
    _coupling: Coupling | None = None

    @classmethod
    def check_device(cls, config, units, memories, main_memory):
        return dual_row_buffer_problems(units, memories, main_memory)

    def bind(self, device: Any) -> None:
        self._coupling = Coupling(device)

    def port_claims(self, i: int, state: DispatchState) -> dict[str, float]:
        return self._coupling.claims(i, state) if self._coupling is not None else {}

    def priority(self, i: int, state: DispatchState) -> tuple:
        """PIM ops before others, then readiness order (the artifact serves the PIM command
        queue first)."""
        return (0 if _is_pim(state.cand(i)) else 1, state.ready_at[i], i)
