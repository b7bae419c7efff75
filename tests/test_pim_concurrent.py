"""Policy ``concurrent`` on a ``dual_row_buffer`` DRAM (issue 13, NeuPIMs' dual row buffer): the
config error without it, PIM priority in ``pick``, the NPU's bandwidth derated to (1 - phi)
while a PIM GEMV runs (phi hand-computed from the standard's timings), determinism, and the
ports' reservations on their own."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

import accelsim
from accelsim.errors import AccelsimError
from accelsim.workload import Gemm, Trace, Vector

from conftest import ROOT


def _dev(dual=True, sched="concurrent", fidelity_mem=None):
    mem = {"type": "dram", "standard": "neupims_hbm2", "refresh": False}
    if dual is not None:
        mem["dual_row_buffer"] = dual
    return accelsim.arch_from_dict({
        "name": "npu-pim", "clock_ghz": 1.0, "tech_node_nm": 22,
        "units": {"sa": {"type": "systolic_array", "rows": 128, "cols": 128, "dataflow": "ws",
                         "pe_dtype": "bf16"},
                  "vec": {"type": "vector", "lanes": 8192},
                  "pim": {"type": "pim_bank", "dtype": "bf16"}},
        "memory": {"hbm": mem},
        "mapping": {"pins": {"gemv": "pim", "stream": "vec"}},
        "scheduling": {"type": sched}})


# -- phi from the standard (neupims_hbm2 = DRAMsim3 HBM2: 16 banks, 2 KiB rows, BL 4 on a DDR
#    bus = 2 tCK per 64 B burst, tCCD_S 1, tFAW 30, tRP 14, tRCD 14) --------------------------
# One element per channel (batch 32 on 32 channels), k = 1024 = one 2 KiB row of bf16, n = 1024
# outputs = 64 tiles of 16 banks: per pass GWRITE 32 x (1 + 2) = 96 tCK, a tile
# 14 + 30 (4/2 - 1) + 14 + 2 x 64 = 186 tCK with 64 COMPs of max(2, 1) = 2 tCK each, four
# grouped activations = two tFAW windows = 60 tCK.
GEMV = dict(batch=32, m=1, n=1024, k=1024)
T_PASS = 96 + 64 * 186
PHI_CMD = 64 * 2 * 64 / T_PASS            # 8192 / 12000
PHI_ACT = 64 * 60 / T_PASS
PHI = max(PHI_CMD, PHI_ACT)


def test_phi_from_the_standards_timings_by_hand():
    pim = _dev().units["pim"]
    assert pim.tile_ck() == 186 and pim.gwrite_ck() == 96
    assert PHI == PHI_CMD == pytest.approx(0.68267, abs=1e-5)
    assert pim.op_coupling_share(Gemm("g", dtype="bf16", **GEMV)) == pytest.approx(PHI,
                                                                                 rel=1e-12)


def test_concurrent_without_a_dual_row_buffer_is_a_config_error_with_file_and_line(tmp_path):
    for dual in (False, None):
        with pytest.raises(AccelsimError, match="concurrent needs dual_row_buffer: true on "
                                                "memory hbm; use blocked"):
            _dev(dual=dual)
    cfg = tmp_path / "dev.yaml"
    cfg.write_text((ROOT / "configs/neupims/neupims.yaml").read_text()
                   .replace("extends: npu_only.yaml", f"extends: {ROOT}/configs/neupims/"
                                                      "npu_only.yaml")
                   .replace("dual_row_buffer: true", "dual_row_buffer: false"))
    with pytest.raises(AccelsimError) as e:
        accelsim.load_arch(cfg)
    text = str(e.value)
    assert "dev.yaml" in text and "scheduling.type" in text and "use blocked" in text
    line = next(i for i, ln in enumerate(cfg.read_text().splitlines(), 1)
                if ln.startswith("scheduling:"))
    assert f":{line}" in text
    # blocked and greedy do not need it; subbatch_interleave's concurrent: true does
    _dev(dual=False, sched="blocked")
    with pytest.raises(AccelsimError, match="concurrent: true needs dual_row_buffer"):
        accelsim.arch_from_dict(_dev(dual=False, sched="greedy").resolved() | {
            "scheduling": {"type": "subbatch_interleave", "concurrent": True}})
    with pytest.raises(AccelsimError, match="exclude each other"):
        accelsim.arch_from_dict(_dev().resolved() | {"scheduling": {
            "type": "subbatch_interleave", "concurrent": True, "blocked": True}})


def test_pim_ops_come_first_when_a_unit_frees():
    """A unit queue holding an NPU op ready at 0 and a PIM op ready at 5: ``concurrent`` picks
    the PIM op, ``greedy`` the earlier one."""
    from accelsim.engine.policies import DispatchState, make_policy
    cands = [SimpleNamespace(unit="u", estimate=1.0,
                             cost=SimpleNamespace(kernel=k, holds=(), tiles=None))
             for k in ("sa gemm", "pim gemv: 1 element(s)/channel")]
    seg = SimpleNamespace(ops=[SimpleNamespace(candidates=(c,)) for c in cands])
    state = DispatchState(seg, ["u"])
    for i, ready in ((0, 0.0), (1, 5.0)):
        state.ready_at[i] = ready
        state.enqueue(i, 0)
    conc = make_policy(accelsim.arch_from_dict(_dev().resolved()).policy_config)
    greedy = make_policy(SimpleNamespace(type="greedy", redispatch=True))
    assert conc.pick("u", state) == 1
    assert greedy.pick("u", state) == 0


def _overlap(fidelity, sched="concurrent", dual=True):
    gemv = Gemm("gemv", dtype="bf16", deps=(), **GEMV)
    stream = Vector("stream", op="add", rows=512, cols=1024, dtype="bf16", deps=())
    res = accelsim.simulate(_dev(dual=dual, sched=sched), Trace.from_ops("two", [gemv, stream]),
                            fidelity=fidelity)
    return res, {r.op: r for r in res.per_op.itertuples()}


STREAM_BYTES = 3 * 512 * 1024 * 2     # a 512 x 1024 bf16 add: two reads and a write


def test_npu_stream_gets_one_minus_phi_of_the_bandwidth_while_the_gemv_runs():
    """Op fidelity. A PIM GEMV (~12000 tCK) and an independent memory-bound NPU stream (3 MiB)
    start together. B = 32 channels x 32 B/tCK = 1024 B/tick (refresh off). Alone (greedy:
    no coupling) the stream takes S / B = 3072 ticks of transfer plus its exposed compute c;
    under ``concurrent`` its bytes move at B (1 - phi) for the whole overlap (it ends inside
    the GEMV), so it takes c + S / (B (1 - phi)) = c + 3072 / 0.31733 = c + 9680.7. The GEMV's
    own bytes are served first, so the GEMV is not slowed by the stream."""
    free, t_free = _overlap("op", sched="greedy")
    conc, t_conc = _overlap("op")
    B = _dev().memories["hbm"].bytes_per_tick
    assert B == 32 * 32
    c = t_free["stream"].cycles - STREAM_BYTES / B
    assert 0 < c < 0.05 * STREAM_BYTES / B
    assert t_conc["stream"].cycles < t_conc["gemv"].cycles   # inside the overlap
    assert t_conc["stream"].cycles == pytest.approx(c + STREAM_BYTES / (B * (1 - PHI)),
                                                    rel=1e-4)
    # the GEMV alone (its bytes first): no slower than when the stream contended with it
    alone = accelsim.simulate(_dev(), Trace.from_ops("one", [Gemm("gemv", dtype="bf16",
                                                                  deps=(), **GEMV)]))
    assert t_conc["gemv"].cycles == pytest.approx(alone.cycles, rel=1e-9)
    assert t_conc["gemv"].cycles <= t_free["gemv"].cycles


def test_tile_fidelity_derates_the_bank_port_by_the_same_share():
    """Tile fidelity: the bank port serves the stream at (1 - phi) of its clock while the GEMV
    runs; its transfer time there is the bank model's (row bursts), so the check is the
    ratio: the stream's slowdown over its time alone is 1 / (1 - phi) on the transfer part
    (within 2% of the whole: the exposed compute and first-access latency do not scale)."""
    _, t_free = _overlap("tile", sched="greedy")
    _, t_conc = _overlap("tile")
    alone = t_free["stream"].cycles
    assert t_conc["stream"].cycles == pytest.approx(alone / (1 - PHI), rel=0.02)
    assert t_conc["stream"].cycles < alone / (1 - PHI)
    assert t_conc["gemv"].cycles <= t_free["gemv"].cycles


def test_concurrent_is_deterministic_and_leaves_chains_and_other_policies_alone():
    a, _ = _overlap("op")
    b, _ = _overlap("op")
    assert a.to_dict(per_op=True) == b.to_dict(per_op=True)
    # greedy on the same memory with or without the flag: identical (the flag only matters
    # to concurrent)
    g1, _ = _overlap("op", sched="greedy", dual=True)
    g0, _ = _overlap("op", sched="greedy", dual=False)
    assert [r.cycles for r in g1.per_op.itertuples()] == \
        [r.cycles for r in g0.per_op.itertuples()]


def test_port_reservations_by_hand():
    """Fluid port of 10 B/tick: a 100 B flow alone ends at 10; with 0.6 reserved from 0 to 5
    it moves 5 x 4 = 20 B, then 80 B at 10 B/tick: ends at 13. Two reservations leave the
    product of what each leaves."""
    from accelsim.engine.resources import Environment, FairShareBandwidth, wait_until
    env = Environment()
    port = FairShareBandwidth(env, 10.0)
    ends = {}

    def npu():
        yield port.transfer(100.0)
        ends["npu"] = env.now

    def pim():
        port.reserve(0.6)
        yield wait_until(env, 5.0)
        port.release(0.6)

    env.process(npu())
    env.process(pim())
    env.run()
    assert ends["npu"] == pytest.approx(13.0, rel=1e-12)
    port.reserve(0.5)
    port.reserve(0.5)
    assert port.budget == pytest.approx(2.5)
    with pytest.raises(ValueError):
        port.reserve(1.0)
