"""Duplex memory spaces and Logic-PIM / xPU bank-bundle contention (issue 15): the bank-hold share
of a bundle stream, the claim formula, the placement of experts and KV caches, and a
hand-checked pair of concurrent ops on the Duplex device."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.arch.device import load_arch
from accelsim.engine.policies.bundle_contention import PHI_MAX, contention_share
from accelsim.engine.policies.memory_spaces import kv_space, place_segment
from accelsim.memory.dram.bank_bundle import bundle_read
from accelsim.memory.dram.standard import load_standard
from accelsim.workload.ops import Attention, Gemm
from accelsim.workload.trace import Segment, Trace

from conftest import ROOT

DUPLEX = ROOT / "configs" / "duplex"


def test_bank_time_share_by_hand():
    """duplex_hbm3: a row-set is R tCCD_L = 32 x 4 = 128 tCK of column reads; a bundle's banks
    are held 128 + tRTP 8 + tRP 19 + tRCD 19 = 174 tCK per row-set; refresh 1 - tRFC / tREFI
    = 0.91026. A stream over four spaces: 0.25 x 174 x 0.91026 / 128 = 0.30934 per space;
    over one space at the full rate: 1.237, capped at 1; half busy: 0.6187."""
    b = bundle_read(load_standard("duplex_hbm3"))
    assert (b.bundles, b.column_ck, b.hold_ck, b.row_ck) == (4, 128.0, 174.0, 128.0)
    assert b.bank_time_share(0.25, 1.0) == pytest.approx(0.25 * 174 * 0.9102564 / 128)
    assert b.bank_time_share(1.0, 1.0) == 1.0
    assert b.bank_time_share(1.0, 0.5) == pytest.approx(0.5 * 174 * 0.9102564 / 128)


def test_contention_share_by_hand():
    # disjoint spaces: no claim (the paper's layout)
    assert contention_share({1: 1.0}, {0: 1.0}) == 0.0
    # space 1 held 0.6, half the xPU's bytes there: rate (1 - 0.6) / 0.5 = 0.8 -> phi 0.2
    assert contention_share({1: 0.6}, {0: 0.5, 1: 0.5}) == pytest.approx(0.2)
    # the held share leaves more than the xPU needs there: (1 - 0.3) / 0.25 > 1 -> 0
    assert contention_share({s: 0.3 for s in range(4)}, {s: 0.25 for s in range(4)}) == 0.0
    # a fully held space the xPU needs: it waits (capped below 1 for the fluid port)
    assert contention_share({2: 1.0}, {2: 0.25, 0: 0.75}) == PHI_MAX


def _g(name: str, **tags) -> Gemm:
    return Gemm(name, m=1, n=64, k=64, dtype="fp16", tags=tuple(tags.items()))


def test_placement_of_experts_and_kv():
    ops = [_g("e0", expert="0"), _g("e5", expert="5"), _g("e6", expert="6"),
           _g("d", attention="a", phase="decode", requests="0,1,2,3,4,5"),
           _g("d1", attention="b", phase="decode", requests="3,6"),
           _g("d2", attention="c", phase="decode"),
           _g("p", attention="p", phase="prefill"), _g("proj", phase="decode")]
    assert [kv_space(r, 4) for r in range(6)] == [1, 2, 3, 1, 2, 3]
    got = place_segment(ops, 4, "by_request")
    assert got[:3] == [{0: 1.0}, {1: 1.0}, {2: 1.0}]              # round robin, "one by one"
    assert got[3] == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3})
    assert got[4] == {1: 1.0}                                     # requests 3 and 6: space 1
    assert got[5] == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3})  # no ids: the KV spaces
    assert got[6] == {0: 1.0}                                     # prefill Q/K/V space
    assert got[7] == pytest.approx({s: 0.25 for s in range(4)})   # xPU weights: anywhere
    inter = place_segment(ops, 4, "interleave")
    assert inter[3] == inter[6] == pytest.approx({s: 0.25 for s in range(4)})
    assert inter[0] == {0: 1.0}                                   # experts as before


def _device(tmp_path, **sched):
    extra = "".join(f"  {k}: {v}\n" for k, v in sched.items())
    p = tmp_path / "d.yaml"
    p.write_text(f"extends: {DUPLEX / 'duplex.yaml'}\nname: dx-test\nscheduling:\n"
                 f"  type: duplex_stage\n  low_opb_unit: lpim\n  high_opb_unit: gpu\n"
                 f"  exclusive: false\n{extra}")
    return load_arch(p)


def _pair(xpu_expert: str) -> Trace:
    """Two independent ops: expert 0's weight GEMM of a decode-only iteration (Logic-PIM, by
    the stage rule; MAC-bound at m = 16: u = 0.55) and a memory-bound expert GEMM of a mixed
    iteration (the xPU), in expert ``xpu_expert``'s space."""
    low = Gemm("lp", m=16, n=4096, k=4096, dtype="fp16", b_shared=True, deps=(),
               tags=(("expert", "0"), ("phase", "decode")))
    high = Gemm("xp", m=8, n=8192, k=8192, dtype="fp16", b_shared=True, deps=(),
                tags=(("expert", xpu_expert), ("phase", "mixed")))
    return Trace("pair", (Segment("layers", (low, high)),))


def test_concurrent_ops_in_one_space_contend_by_hand(tmp_path):
    """Expert 0 on Logic-PIM and expert 4 on the xPU share space 0 (4 spaces, round robin):
    phi = h(0) = u x 174 x 0.91026 / 128 (f(0) = 1), u = bundle cycles / MAC cycles of the
    Logic-PIM GEMM; expert 1 on the xPU is in space 1: no claim, the xPU op as without the
    model. The claim is read from the policy and its effect on the xPU op checked."""
    from accelsim.engine.fidelities import fidelity
    from accelsim.engine.plan import plan
    from accelsim.engine.policies import DispatchState, make_policy

    dev = _device(tmp_path)
    lp = dev.units["lpim"]
    macs = 16 * 4096 * 4096
    mac_ck = macs / (5 * 32 * 512)
    read_ck = 4096 * 4096 * 2 / lp.bundle_bytes_per_cycle()
    u = min(mac_ck, read_ck) / mac_ck
    assert read_ck < mac_ck                                   # MAC-bound: 0 < u < 1
    h = min(1.0, u * 174 * 0.9102564102564102 / 128)

    def claim(tr):
        seg = next(sp for sp in plan(dev, tr, fidelity("op")) if sp.segment.name == "layers")
        pol = make_policy(dev.policy_config, dev)
        state = DispatchState(seg, list(dev.units))
        pol.prepare(seg, state)
        for i, p in enumerate(seg.ops):
            state.choice[i] = pol.assign(i, state)
        i = next(i for i, p in enumerate(seg.ops) if p.op.name == "lp")
        assert state.cand(i).unit == "lpim"
        return pol.port_claims(i, state)

    assert claim(_pair("4")) == {"hbm": pytest.approx(h, rel=1e-9)}
    assert claim(_pair("1")) == {}

    def xpu_end(tr, **sched):
        r = accelsim.simulate(_device(tmp_path, **sched), tr)
        c = r.columns
        at = {c["op"][k]: (c["unit"][k], c["start"][k], c["end"][k]) for k in range(len(c["op"]))}
        assert at["lp"][0] == "lpim" and at["xp"][0] == "gpu"
        assert at["lp"][1] == at["xp"][1] == 0.0              # both at once
        return at["xp"][2], at["lp"][2]

    free, _ = xpu_end(_pair("4"), bundle_contention="false")
    same, lp_end = xpu_end(_pair("4"))
    apart, _ = xpu_end(_pair("1"))
    assert apart == free                                      # disjoint spaces: bit for bit
    assert same > free                                        # shared space: the xPU slows
    # the xPU moves at (1 - h) of the port while Logic-PIM runs, at the full port after: its
    # delay is at most h x the Logic-PIM op's time (equal when it is memory-bound throughout)
    assert same - free <= h * lp_end * (1 + 1e-9)


def test_paper_layout_leaves_the_duplex_configs_unchanged():
    """+PE with four expert spaces and +ET with the KV cache by request: the co-processed ops
    touch disjoint spaces, so the model changes nothing (the authors' independent timing)."""
    from accelsim.workload.zoo import build_iteration
    mixed = build_iteration("mixtral-8x7b", prefill=(128,), decode=((512, 6),), act_dtype="fp16")
    dev = load_arch(DUPLEX / "duplex_pe_et.yaml")
    on = accelsim.simulate(dev, mixed)
    spec = dev.policy_config.model_copy(update={"bundle_contention": False})
    off_dev = load_arch(DUPLEX / "duplex_pe_et.yaml")
    object.__setattr__(off_dev, "policy_config", spec)
    off = accelsim.simulate(off_dev, mixed)
    assert on.cycles == off.cycles


def test_bad_kv_placement_is_one_clear_error(tmp_path):
    with pytest.raises(accelsim.errors.ConfigError, match="kv_placement"):
        _device(tmp_path, kv_placement="striped")


def test_attention_pair_is_an_attention_op():
    """The zoo's decode attention ops are Attention ops tagged by phase (placement reads
    them after lowering through the ``attention`` tag of the parts)."""
    a = Attention("attn.d64", batch=2, heads=8, kv_heads=2, q_len=1, kv_len=64, head_dim=64,
                  dtype="fp16", tags=(("phase", "decode"),))
    parts = a.lower()
    got = place_segment(parts, 4, "by_request")
    assert all(g == pytest.approx({1: 1 / 3, 2: 1 / 3, 3: 1 / 3}) for g in got)
