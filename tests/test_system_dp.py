"""Data parallelism and expert parallelism across replicas (system/config.py, sharding.py):
hand-checked cases."""
from __future__ import annotations

import pytest

from accelsim.errors import AccelsimError
from accelsim.system import load_system, simulate_system
from accelsim.system.sharding import replica_share
from accelsim.workload.zoo import build_trace

from conftest import ROOT

NVLINK = (450.0, 2.0)       # GB/s per direction, us per step (the toy's inner dimension)
IB = (400.0, 5.0)           # the outer dimension


def _system(tmp_path, parallelism: str, count: int, topology: str | None = None):
    (tmp_path / "gpu").mkdir(exist_ok=True)
    (tmp_path / "gpu" / "h100_sxm.yaml").write_text(
        (ROOT / "configs" / "gpu" / "h100_sxm.yaml").read_text().replace(
            "extends: h200.yaml", f"extends: {ROOT / 'configs' / 'gpu' / 'h200.yaml'}"))
    (tmp_path / "systems").mkdir(exist_ok=True)
    f = tmp_path / "systems" / f"s{abs(hash(parallelism + str(topology))) % 10**8}.yaml"
    topo = topology or (f"[{{type: switch, npus: 2, bandwidth_gb_s: {NVLINK[0]}, latency_us: "
                        f"{NVLINK[1]}}}, {{type: switch, npus: 4, bandwidth_gb_s: {IB[0]}, "
                        f"latency_us: {IB[1]}}}]")
    f.write_text(f"name: s\ndevices: {{path: ../gpu/h100_sxm.yaml, count: {count}}}\n"
                 f"topology: {topo}\nparallelism: {parallelism}\n")
    return load_system(f)


def test_dp2_halves_the_replica_batch_and_doubles_throughput(tmp_path):
    full = build_trace("llama2-7b", phase="prefill", batch=8, ctx=512)
    half = build_trace("llama2-7b", phase="prefill", batch=4, ctx=512)
    share = replica_share(full, 2)
    gemm = next(o for o in share.segments[1].ops if o.name == "qkv_proj")
    assert gemm.m == 4 * 512                                  # each replica: half the tokens
    one = _system(tmp_path, "{tp: 2}", 2)
    two = _system(tmp_path, "{dp: 2, tp: 2}", 4)
    r2, r1_half, r1_full = (simulate_system(two, full), simulate_system(one, half),
                            simulate_system(one, full))
    assert r2.devices == 4 and r2.parallelism["dp"] == 2
    assert r2.latency_s == r1_half.latency_s                  # one replica runs the half batch
    assert r2.rank_runs == 2 * r1_half.rank_runs             # energy: both replicas' ranks
    # throughput (every replica's tokens over the slowest replica's latency): exactly twice
    # the half batch on one replica; compute-bound prefill, so about twice dp 1 on half the
    # devices with the whole batch
    tok = 8 * 512
    assert tok / r2.latency_s == 2 * (tok / 2) / r1_half.latency_s
    assert (tok / r2.latency_s) / (tok / r1_full.latency_s) == pytest.approx(2.0, rel=0.05)
    from accelsim.workload.zoo import build_iteration
    it = build_iteration("llama2-7b", prefill=(128, 128), decode=((256, 6),))
    r = simulate_system(two, it)                               # tokens_per_s: all replicas'
    assert r.tokens_per_s == float(dict(it.meta)["tokens"]) / r.latency_s

def _moe_op(result, name: str) -> float:
    df = result.stages[0].per_op
    rows = df[df.op == name]
    return float(rows.cycles.iloc[0]) / result.stages[0].clock_hz


def test_expert_all_to_all_over_dp_x_tp_and_dp_from_the_topology(tmp_path):
    """Mixtral decode, batch 8 on 2 nodes x 2 devices: T = 8 tokens, top-2 of 8 experts, 2
    tokens per expert over the whole batch; h = 4096, fp16."""
    tr = build_trace("mixtral-8x7b", phase="decode", batch=8, ctx=128, act_dtype="fp16")
    topo = (f"[{{type: switch, npus: 2, bandwidth_gb_s: {NVLINK[0]}, latency_us: {NVLINK[1]}}},"
            f" {{type: switch, npus: 2, bandwidth_gb_s: {IB[0]}, latency_us: {IB[1]}}}]")
    h, per_expert = 4096, 8 * 2 // 8

    def switch(nbytes, n, bw, lat):      # topology.py's switch all-to-all, by hand
        return (n - 1) / n * nbytes / (bw * 1e9) + lat * 1e-6

    # ep = dp x tp = 4: rank 0 keeps experts 0, 1 whole; S = their tokens x h x 2 bytes
    r = simulate_system(_system(tmp_path, "{dp: 2, tp: 2, ep: 4}", 4, topo), tr)
    s = 2 * per_expert * h * 2
    want = switch(s, 2, *NVLINK) + switch(s, 2, *IB)          # per dimension, on the whole S
    assert _moe_op(r, "layers.moe_dispatch") == pytest.approx(want, rel=1e-9)
    assert _moe_op(r, "layers.moe_combine") == pytest.approx(want, rel=1e-9)
    # ep = dp = 4 (dp 4 x tp 2 on 2 x 4 NPUs): 2 experts per node tensor-split over tp 2; the
    # all-to-all over one tp index of each node (stride 2): the IB dimension only
    topo = (f"[{{type: switch, npus: 2, bandwidth_gb_s: {NVLINK[0]}, latency_us: {NVLINK[1]}}},"
            f" {{type: switch, npus: 4, bandwidth_gb_s: {IB[0]}, latency_us: {IB[1]}}}]")
    r = simulate_system(_system(tmp_path, "{dp: 4, tp: 2, ep: 4}", 8, topo), tr)
    s = 2 * per_expert * h * 2
    assert _moe_op(r, "layers.moe_dispatch") == pytest.approx(switch(s, 4, *IB), rel=1e-9)
    assert _moe_op(r, "layers.moe_combine") == pytest.approx(switch(s, 4, *IB), rel=1e-9)
    # the partial sums' all-reduce over tp 2 in the node: 2 (n-1)/n S/B + 2 log2(n) a
    assert _moe_op(r, "layers.moe_all_reduce") == pytest.approx(
        2 * (0.5 * s / (NVLINK[0] * 1e9)) + 2 * NVLINK[1] * 1e-6, rel=1e-9)

def test_experts_across_replicas_see_the_whole_batch():
    from accelsim.system.sharding import shard
    tr = build_trace("mixtral-8x7b", phase="decode", batch=8, ctx=128)
    ops = {o.name: o for o in shard(replica_share(tr, 2, 2, 4), 2, 4, 2).trace.segments[1].ops}
    assert ops["qkv_proj"].m == 4                       # a replica's 4 tokens
    assert ops["expert0.gate_up_proj"].m == 2           # every replica's tokens for expert 0
    assert set(n for n in ops if n.startswith("expert")) == {
        f"expert{i}.{p}" for i in (0, 1) for p in ("gate_up_proj", "act", "gate_mul",
                                                   "down_proj")}
    # 16 ranks for 8 experts: expert 0 tensor-split over 2 of them (Duplex Sec 3 footnote)
    ops = {o.name: o for o in shard(replica_share(tr, 2, 8, 16), 8, 16, 2).trace.segments[1].ops}
    full = {o.name: o for o in tr.segments[1].ops}
    assert ops["expert0.gate_up_proj"].n == full["expert0.gate_up_proj"].n // 2
    assert ops["expert0.down_proj"].k == full["expert0.down_proj"].k // 2
    assert "expert1.gate_up_proj" not in ops


@pytest.mark.parametrize("par, count, topology, match", [
    ("{dp: 2, tp: 2, ep: 3}", 4, None, r"ep must be 1, tp \(2\), dp \(2\) or dp x tp \(4\)"),
    ("{dp: 2, tp: 2, pp: 2}", 4, None, r"dp x tp x pp = 2 x 2 x 2 = 8 must equal devices"),
    ("{dp: 4, tp: 2}", 8, "{type: switch, npus: 4, bandwidth_gb_s: 10}", "holds 4 NPUs"),
    ("{dp: 2, tp: 3, ep: 2}", 6, "[{type: switch, npus: 2, bandwidth_gb_s: 10}, "
     "{type: switch, npus: 4, bandwidth_gb_s: 10}]", "strided by 3 NPUs"),
])
def test_bad_combinations_are_located_errors(tmp_path, par, count, topology, match):
    with pytest.raises(AccelsimError, match=match) as e:
        _system(tmp_path, par, count, topology)
    assert ".yaml" in str(e.value)


def test_bundled_multi_node_systems_use_dp():
    d = ROOT / "configs" / "duplex" / "systems"
    for name, ep in (("gpu_2x8", 16), ("duplex_2x8", 16), ("duplex_pe_2x8", 2),
                     ("duplex_pe_et_2x8", 2), ("gpu_2x8_dp2", 16)):
        p = load_system(d / f"{name}.yaml").parallelism
        assert (p.dp, p.tp, p.pp, p.ep) == (2, 8, 1, ep), name
