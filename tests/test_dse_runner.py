"""Runner, strategies and store: determinism, failures, resume, crash safety, replay."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import accelsim
from accelsim.dse import ResultStore, load_experiment, load_results, replay, run_sweep
from accelsim.dse.store import StoreError
from accelsim.errors import ConfigError
from accelsim.dse.strategies import planned_points

from dse_util import ARCH, LLAMA, ROOT, children, write_exp

GRID = """\
axes:
  units.sa.rows: [64, 128]
  units.sa.sram.ifmap_kb: [256, 1024]
  memory.dram.bandwidth_gb_s: [128, 512, 2048]
derived:
  units.sa.cols: units.sa.rows
objectives: {latency_s: min, utilization: max}
"""


def frame(store) -> pd.DataFrame:
    return load_results(store, status=None)


def test_grid_sweep_stores_params_metrics_and_config(tmp_path):
    exp = write_exp(tmp_path, GRID + "derived_metrics: {bytes_per_token: "
                    "(bytes.dram_read + bytes.dram_write) / tokens}\n")
    rep = run_sweep(exp, tmp_path / "s", workers=1)
    assert (rep.planned, rep.evaluated, rep.failed, rep.skipped) == (12, 12, 0, 0)
    df = frame(tmp_path / "s")
    assert df["point"].tolist() == list(range(12))
    # a derived whole number (cols: rows) stays int64 (issue 17), as the axis it comes from
    assert df["units.sa.rows"].dtype.kind == "i" and df["units.sa.cols"].dtype.kind == "i"
    r = df.iloc[5]
    assert (r["units.sa.rows"], r["units.sa.sram.ifmap_kb"], r["memory.dram.bandwidth_gb_s"]) \
        == (64, 1024, 2048)
    assert r["status"] == "ok" and r["feasible"] and r["accelsim_version"] == accelsim.__version__
    assert r["tokens"] == 4 and r["tokens_per_s"] == pytest.approx(4 / r["latency_s"])
    assert r["bytes_per_token"] == pytest.approx(
        (r["bytes.dram_read"] + r["bytes.dram_write"]) / 4)
    # the stored config rebuilds the same architecture, and a fresh simulation agrees
    cfg = json.loads(r["config"])
    arch = accelsim.arch_from_dict(cfg["arch"])
    assert arch.config_hash() == r["config_hash"]
    res = accelsim.simulate(arch, accelsim.load_workload(tmp_path / "tiny.yaml"), cfg["fidelity"])
    assert res.cycles == r["cycles"] and res.latency_s == r["latency_s"]
    m = ResultStore(tmp_path / "s").manifest
    assert m["experiment"]["text"] == exp.read_text() and m["runs"][-1]["status"] == "finished"
    assert m["param_types"]["units.sa.rows"] == "int"
    assert len(list((tmp_path / "s" / "parts").iterdir())) == 1  # compacted at the end


def test_results_do_not_depend_on_workers_or_chunks(tmp_path):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "a", workers=1)
    run_sweep(exp, tmp_path / "b", workers=2, chunk_size=1)
    run_sweep(exp, tmp_path / "c", workers=2, chunk_size=5)
    a = frame(tmp_path / "a")
    pd.testing.assert_frame_equal(a, frame(tmp_path / "b"))
    pd.testing.assert_frame_equal(a, frame(tmp_path / "c"))


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path):
    exp = write_exp(tmp_path, "axes:\n  units.sa.pe_dtype: [bf16, int8]\n"
                    "  units.sa.rows: [64, 128]\n")
    rep = run_sweep(exp, tmp_path / "s", workers=2)
    assert rep.evaluated == 4 and rep.failed == 2
    df = frame(tmp_path / "s")
    bad = df[df["status"] == "error"]
    assert bad["units.sa.pe_dtype"].tolist() == ["int8", "int8"]
    assert bad["error"].str.contains("int8").all() and not bad["feasible"].any()
    assert bad["latency_s"].isna().all()
    assert len(load_results(tmp_path / "s")) == 2  # default: successful points


def test_metric_constraints_mark_infeasible_points(tmp_path):
    exp = write_exp(tmp_path, GRID + "constraints: ['latency_s <= 1.2e-5']\n")
    rep = run_sweep(exp, tmp_path / "s", workers=1)
    df = frame(tmp_path / "s")
    assert rep.infeasible == (~df["feasible"]).sum() > 0
    assert (df["feasible"] == (df["latency_s"] <= 1.2e-5)).all()


def test_random_strategy_is_seeded(tmp_path):
    def points(seed, samples=5):
        exp = load_experiment(write_exp(tmp_path, GRID + f"strategy: {{kind: random, samples: "
                                        f"{samples}, seed: {seed}}}\n"))
        return [p.index for p in planned_points(exp)]
    assert points(1) == points(1)
    assert points(1) != points(2)
    assert len(set(points(3))) == 5
    assert sorted(points(3, samples=100)) == list(range(12))  # capped at the space


def test_resume_skips_points_already_stored(tmp_path):
    sub = write_exp(tmp_path, GRID + "strategy: {kind: random, samples: 5, seed: 4}\n",
                    name="sub.yaml")
    full = write_exp(tmp_path, GRID, name="full.yaml")
    run_sweep(sub, tmp_path / "s", workers=1)
    with pytest.raises(StoreError, match="already exists; pass --resume"):
        run_sweep(full, tmp_path / "s", workers=1)
    rep = run_sweep(full, tmp_path / "s", workers=2, resume=True)
    assert (rep.skipped, rep.evaluated) == (5, 7)
    run_sweep(full, tmp_path / "fresh", workers=1)
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), frame(tmp_path / "fresh"))
    again = run_sweep(full, tmp_path / "s", resume=True, workers=1)
    assert (again.skipped, again.evaluated) == (12, 0)
    m = ResultStore(tmp_path / "s").manifest
    assert len(m["runs"]) == 3 and m["previous_experiments"][0]["text"] == sub.read_text()
    run_sweep(full, tmp_path / "s", workers=1, overwrite=True)
    assert len(ResultStore(tmp_path / "s").manifest["runs"]) == 1


def test_resume_refuses_another_version(tmp_path):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "s", workers=1)
    mf = tmp_path / "s" / "manifest.json"
    m = json.loads(mf.read_text())
    m["accelsim_version"] = "0.0.1"
    mf.write_text(json.dumps(m))
    with pytest.raises(StoreError, match="written by accelsim 0.0.1"):
        run_sweep(exp, tmp_path / "s", workers=1, resume=True)


def test_store_lock_and_crash_states(tmp_path):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "s", workers=1)
    whole = frame(tmp_path / "s")
    rs = ResultStore(tmp_path / "s")
    rs.lock()
    with pytest.raises(StoreError, match="being written by another sweep"):
        ResultStore(tmp_path / "s").lock()
    rs.unlock()
    parts = tmp_path / "s" / "parts"
    # a kill -9 during a part write leaves a temporary file: ignored
    (parts / ".tmp-123-part-000009.parquet").write_bytes(b"PAR1 torn")
    # ... during the index append: a torn line; and a part the index lacks
    idx = tmp_path / "s" / "index.jsonl"
    idx.write_text('{"part": "part-0000')
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), whole)
    assert len(ResultStore(tmp_path / "s")) == 12
    # ... during compaction: the merged part exists beside the old ones: no duplicates
    part = next(parts.glob("part-*.parquet"))
    (parts / "part-000100.parquet").write_bytes(part.read_bytes())
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), whole)


def test_a_locked_store_is_neither_overwritten_nor_changed_by_resume(tmp_path):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "s", workers=1)
    whole = frame(tmp_path / "s")
    mf = (tmp_path / "s" / "manifest.json").read_text()
    busy = ResultStore(tmp_path / "s")
    busy.lock()  # another sweep is writing this store
    try:
        with pytest.raises(StoreError, match="being written by another sweep"):
            run_sweep(exp, tmp_path / "s", workers=1, overwrite=True)
        with pytest.raises(StoreError, match="being written by another sweep"):
            run_sweep(write_exp(tmp_path, GRID + "# changed\n", name="e2.yaml"), tmp_path / "s",
                      workers=1, resume=True)
    finally:
        busy.unlock()
    assert (tmp_path / "s" / "manifest.json").read_text() == mf
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), whole)


def test_optuna_is_deterministic_and_resumable(tmp_path):
    body = GRID + ("strategy: {kind: optuna, sampler: nsga2, budget: 12, population: 4, "
                   "seed: 3}\nconstraints: ['latency_s <= 1']\n")
    exp = write_exp(tmp_path, body)
    r1 = run_sweep(exp, tmp_path / "a", workers=1)
    run_sweep(exp, tmp_path / "b", workers=2)
    a = frame(tmp_path / "a")
    pd.testing.assert_frame_equal(a, frame(tmp_path / "b"))
    assert r1.evaluated + r1.skipped == 12 and 0 < len(a) <= 12
    again = run_sweep(exp, tmp_path / "a", workers=2, resume=True)
    assert again.evaluated == 0  # the same trials are proposed and answered from the store
    pd.testing.assert_frame_equal(a, frame(tmp_path / "a"))
    tpe = write_exp(tmp_path, body.replace("nsga2", "tpe"), name="tpe.yaml")
    run_sweep(tpe, tmp_path / "t1", workers=1)
    run_sweep(tpe, tmp_path / "t2", workers=2)
    pd.testing.assert_frame_equal(frame(tmp_path / "t1"), frame(tmp_path / "t2"))


def test_replay_reproduces_a_stored_point(tmp_path):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "s", workers=1)
    df = frame(tmp_path / "s")
    key = df.iloc[7]["key"]
    arch, res = replay(tmp_path / "s", key[:8])
    assert res.cycles == df.iloc[7]["cycles"] and len(res.per_op) == 3
    assert arch.config_hash() == df.iloc[7]["config_hash"]


# ---------------------------------------------------------------------------- interruptions

KILL_BODY = """\
# the worker pool is what these tests exercise: no vectorised path
evaluator: batch
axes:
  units.sa.sram.ifmap_kb: [512, 1024, 2048, 4096]
  units.sa.rows: [64, 128, 192, 256]
  memory.dram.bandwidth_gb_s: {range: [100, 2000, 50]}
"""


def _llama_exp(tmp_path: Path) -> Path:
    head = f"name: kill\narchs: {{sa: {ARCH}}}\nworkloads: {{w: {LLAMA}}}\n"
    return write_exp(tmp_path, KILL_BODY, head=head)


def _sweep_proc(exp: Path, store: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "accelsim.cli", "sweep", str(exp),
                             "--store", str(store), "--workers", "2", "--chunk-size", "4",
                             "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_parts(store: Path, proc: subprocess.Popen, n: int = 3) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list((store / "parts").glob("part-*.parquet"))) >= n if (store / "parts").is_dir() \
                else False:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.005)
    raise AssertionError("the sweep wrote no parts")


def test_kill_9_loses_no_finished_point_and_resume_completes(tmp_path):
    exp, store = _llama_exp(tmp_path), tmp_path / "s"
    total = 4 * 4 * 39
    proc = _sweep_proc(exp, store)
    _wait_for_parts(store, proc)
    workers = children(proc.pid)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = ResultStore(store)
    n = len(before)
    assert 0 < n < total
    keys = before.keys()
    deadline = time.time() + 10  # orphaned workers notice and exit
    while time.time() < deadline and any(Path(f"/proc/{p}").exists() for p in workers):
        time.sleep(0.1)
    assert not [p for p in workers if Path(f"/proc/{p}/stat").exists()
                and " Z " not in Path(f"/proc/{p}/stat").read_text()]
    rep = run_sweep(exp, store, workers=2, resume=True)
    assert rep.skipped == n and rep.evaluated == total - n
    after = frame(store)
    assert len(after) == total and keys <= set(after["key"])
    run_sweep(exp, tmp_path / "fresh", workers=2)
    pd.testing.assert_frame_equal(after, frame(tmp_path / "fresh"))


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path):
    exp, store = _llama_exp(tmp_path), tmp_path / "s"
    proc = _sweep_proc(exp, store)
    _wait_for_parts(store, proc, n=1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted:" in err and "--resume" in err and "Traceback" not in err
    rs = ResultStore(store)
    assert rs.manifest["runs"][-1]["status"] == "interrupted"
    assert len(rs) == len(rs.load(status=None))


def test_cost_model_metrics_are_objectives_and_constraints(tmp_path):
    probe = accelsim.simulate(accelsim.load_arch(ARCH), accelsim.load_workload(LLAMA), "op")
    if "area_mm2" not in probe.summary():
        pytest.skip("the energy/area model is not in this tree")
    exp = write_exp(tmp_path, GRID.replace("objectives: {latency_s: min, utilization: max}",
                                           "objectives: {latency_s: min, area_mm2: min}")
                    + "constraints: ['area_mm2 <= 20', 'power_w <= 300']\n")
    run_sweep(exp, tmp_path / "s", workers=1)
    df = frame(tmp_path / "s")
    assert {"energy_j", "power_w", "area_mm2", "energy_per_token_j"} <= set(df.columns)
    assert any(c.startswith("energy.") for c in df.columns)
    assert (df["feasible"] == ((df["area_mm2"] <= 20) & (df["power_w"] <= 300))).all()
    assert df["feasible"].any() and not df["feasible"].all()
    assert (df["area_mm2"][df["units.sa.rows"] == 128] > df["area_mm2"][df["units.sa.rows"] == 64]
            .max()).all()
    bad = write_exp(tmp_path, "objectives: {area_mm3: min}\n", name="bad.yaml")
    with pytest.raises(ConfigError, match="unknown metric .area_mm3.; did you mean .area_mm2."):
        run_sweep(bad, tmp_path / "s2", workers=1)


def test_derived_values_of_mixed_types_are_stored_and_cells_are_typed(tmp_path):
    exp = write_exp(tmp_path, "axes:\n  units.sa.rows: [64, 128]\nderived:\n"
                    "  units.sa.dataflow: \"'ws' if units.sa.rows == 64 else 'os'\"\n"
                    "  units.vec.buffer_kb: \"256 if units.sa.rows == 64 else 128.5\"\n")
    rep = run_sweep(exp, tmp_path / "s", workers=1)
    df = frame(tmp_path / "s")
    assert rep.failed == 0 and df["units.sa.dataflow"].tolist() == ["ws", "os"]
    assert df["units.vec.buffer_kb"].tolist() == [256.0, 128.5]
    from accelsim.dse.space import cell
    with pytest.raises(ValueError, match="column holds float"):
        cell("ws", "float")
    assert cell(3.0, "int") == 3 and cell([1, 2], "str") == "[1, 2]"


def test_a_reader_survives_a_compaction_that_deletes_the_parts_it_listed(tmp_path):
    store = tmp_path / "s"
    run_sweep(write_exp(tmp_path, GRID), store, workers=1)
    reader = ResultStore(store)                 # lists the one compacted part
    assert len(reader.load()) == 12
    bigger = GRID.replace("units.sa.rows: [64, 128]", "units.sa.rows: [64, 128, 32]")
    run_sweep(write_exp(tmp_path, bigger), store, workers=1, resume=True)  # compacts again
    assert not (store / "parts" / next(iter(reader._index))).exists()
    df = reader.load()                          # the listed part is gone: re-list, read again
    assert len(df) == 18 and df["key"].is_unique
