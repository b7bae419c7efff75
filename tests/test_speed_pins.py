"""Issue 16: start-up and single-step speed work leaves results bit-identical.

tests/fixtures/speed_pins.json holds, per case of tests/speed_pin_cases.py, the SHA-256 of the
full result JSON (summary, actions, cost, units, every per-op row) computed by the code before
that work (main @ 64f99e8). Each case is simulated twice in one process, so memoised costs
must give the cold result again.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from speed_pin_cases import CASES, compute  # noqa: E402

PINS = json.loads((Path(__file__).parent / "fixtures" / "speed_pins.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_result_bit_identical_to_pin(case):
    pin = PINS[case[0]]
    for _ in range(2):  # cold, then with every memo warm
        got = compute(case)
        assert got["cycles"] == pin["cycles"]
        e, pe = got["energy_j"], pin["energy_j"]
        assert (math.isnan(e) and math.isnan(pe)) or e == pe
        assert got["sha256"] == pin["sha256"]


def test_whole_workload_columns_equal_segment_by_segment():
    """``assemble.columns`` (gathered once for the workload) equals concatenating
    ``segment_columns`` (one segment at a time, the old assembly), bit for bit."""
    import numpy as np

    import accelsim
    from accelsim import pipeline
    from accelsim.engine import assemble as asm
    from accelsim.engine.fidelities import fidelity
    from accelsim.engine.plan import plan
    from accelsim.engine.result import PER_OP_COLUMNS
    from accelsim.engine.schedule import schedule
    from accelsim.cost.estimator import arch_cost

    root = Path(__file__).resolve().parent.parent
    for cfg, opts, fid_name in (("configs/sa128_bf16_hbm.yaml", {"phase": "decode", "batch": 16,
                                                                  "ctx": 2048}, "op"),
                                ("configs/neupims/neupims.yaml", {"phase": "decode", "batch": 8,
                                 "ctx": 512, "act_dtype": "fp16"}, "tile")):
        arch = accelsim.load_arch(str(root / cfg))
        trace = accelsim.load_workload("llama2-7b", **opts)
        fid = fidelity(fid_name)
        runs = [asm.Run(sp, schedule(sp, fid, arch, True)) for sp in plan(arch, trace, fid)]
        pricing = arch_cost(arch)
        energies, drams = pipeline.price_runs(pricing, arch, runs)
        got, span = asm.columns(runs, arch, energies, drams)
        parts, offset = [], 0.0
        for r, e, d in zip(runs, energies, drams):
            parts.append(asm.segment_columns(r, arch, offset, e, d))
            offset += r.span * r.repeat
        assert span == offset
        for k in PER_OP_COLUMNS:
            want = np.concatenate([p[k] for p in parts])
            assert got[k].dtype == want.dtype or k in ("start", "end", "cycles"), k
            np.testing.assert_array_equal(got[k], want, err_msg=k)  # NaN equals NaN


def test_process_local_memo_ids_are_not_pickled():
    """Timing ids are numbered per process: a pickled device, memory or prepared op (sent to
    a sweep worker) must not carry them, or two different memories could share one there."""
    import pickle

    import accelsim
    from accelsim.engine import timing
    from accelsim.engine.plan import plan

    root = Path(__file__).resolve().parent.parent
    arch = accelsim.load_arch(str(root / "configs" / "sa128_bf16_hbm.yaml"))
    trace = accelsim.load_workload("llama2-7b", phase="decode", batch=1, ctx=128)
    accelsim.simulate(arch, trace)
    prep = plan(arch, trace)[0].ops[0].candidates[0].prepared
    assert timing.memory_ids(arch) and prep._memo and "_timing_id" in arch.memories["dram"].__dict__
    back = pickle.loads(pickle.dumps(arch))
    assert "_memory_ids" not in back.__dict__
    assert all("_timing_id" not in m.__dict__ for m in back.memories.values())
    assert pickle.loads(pickle.dumps(prep))._memo == {}
    assert accelsim.simulate(back, trace).cycles == accelsim.simulate(arch, trace).cycles
