"""accelsim reproduce: rows with paper value, ours, error and verdict; misses stay misses."""
from __future__ import annotations

import json

import pytest

from accelsim.cli import main
from accelsim.errors import AccelsimError
from accelsim.reproduce import reproduce, row
from accelsim.reproduce.lut_tensor_core import tile_ppa


def test_verdicts_follow_the_tolerance():
    spec = {"id": "x", "claim": "c", "value": 100.0, "unit": "u", "tolerance": 0.15}
    assert row(spec, 114.0).verdict == "within"
    r = row(spec, 120.0, cause="why")
    assert r.verdict == "miss" and r.cause == "why" and r.error == pytest.approx(0.2)
    assert row(spec, None, pending="needs X").verdict == "pending"


def test_lut_tensor_core_rows():
    rows = {r.id: r for r in reproduce("lut_tensor_core")}
    # the peak formula (SMs x 4 TCs x 512 X / W_BIT x 2 x 1.41 GHz) through the unit's peak()
    for cid in ("T1-3-peak", "T1-4-peak", "T1-6-peak", "T1-7-peak", "T1-1-peak"):
        assert rows[cid].verdict == "within", rows[cid]
    assert all(r.cause for r in rows.values() if r.verdict != "within")
    assert not [r for r in rows.values() if r.verdict == "pending"]
    # Table 1 latencies on the GPU unit with LUT arrays: more LUT units, less time
    assert rows["T1-4-dec"].ours < rows["T1-3-dec"].ours < rows["T1-2-dec"].ours
    assert rows["T1-7-dec"].ours < rows["T1-6-dec"].ours
    # fusion leaves a smaller precompute overhead than separate table kernels
    for s in ("pre", "dec"):
        assert 0 < rows[f"LT-27-{s}-fused"].ours < rows[f"LT-27-{s}-unfused"].ours
    assert rows["LT-E1-int"].ours in range(2, 9)
    # the ablation goes the paper's way: each step smaller, the LUT TC smallest
    areas = [rows[f"T2-{v}-area"].ours for v in ("UNPU", "WR", "NE", "LUT")]
    assert areas == sorted(areas, reverse=True)


def test_tile_ppa_orders_the_table_variants():
    unpu = tile_ppa(symmetric=False, precompute="in_unit")
    lut = tile_ppa(symmetric=True, negation="eliminated", precompute="external")
    assert unpu[0] > lut[0] and unpu[1] > lut[1]


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    j, m = tmp_path / "r.json", tmp_path / "r.md"
    assert main(["reproduce", "lut_tensor_core", "--json", str(j), "--markdown", str(m)]) == 0
    rows = json.loads(j.read_text())
    assert {"id", "paper", "ours", "error", "verdict", "cause"} <= set(rows[0])
    assert m.read_text().startswith("| id | claim | paper | ours |")
    assert main(["reproduce", "lut_tensor_cor"]) == 2
    assert "did you mean 'lut_tensor_core'" in capsys.readouterr().err
    with pytest.raises(AccelsimError):
        reproduce("nope")


@pytest.mark.slow
def test_neupims_rows():
    """Every claim has a finite value; misses carry causes; PIM beats the NPU alone and
    NeuPIMs (greedy balancing, dual row buffer, sub-batches) beats naive NPU+PIM. Slow: 128
    system simulations of ragged decode batches (about 2 minutes)."""
    rows = {r.id: r for r in reproduce("neupims")}
    assert len(rows) == 10 and all(r.ours is not None and r.ours > 0 for r in rows.values())
    assert all(r.cause for r in rows.values() if r.verdict == "miss")
    assert rows["NP-1-npu"].ours > 1 and rows["NP-2"].ours > 1
    assert rows["NP-1-npupim"].ours > 1 and rows["NP-7-large"].ours > 1


def test_neupims_decode_batches_are_seeded_ragged_and_carry_arrival_ids():
    """Requests in flight drawn from the NeuPIMs ShareGPT preset (context = prompt + a
    uniform point of the output, mean near 80 + 296 / 2), the same every run; each
    attention op lists its requests' ids, all ids once; microbatches copy the requests."""
    from accelsim.reproduce.neupims import contexts, decode_trace
    from accelsim.workload.ops import Attention
    c = contexts("sharegpt", 256)
    assert c == contexts("sharegpt", 256) and len(set(c)) > 50
    assert 150 < sum(c) / len(c) < 300 and max(c) <= 2048
    tr = decode_trace("gpt3-7b", "sharegpt", 64, microbatches=2)
    att = [o for o in tr.segments[1].ops if isinstance(o, Attention)]
    ids = sorted(int(i) for o in att for i in dict(o.tags)["requests"].split(","))
    assert ids == list(range(64)) and sum(o.batch for o in att) == 64
    first = contexts("sharegpt", 32)
    assert sorted(o.kv_len for o in att for _ in range(o.batch)) == sorted(first * 2)
