"""--resume: failed points are retried, and stored rows follow an edited experiment."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import accelsim.dse.backends as backends
import accelsim.dse.evaluate as evaluate
from accelsim.cli import main
from accelsim.dse import ResultStore, load_results, run_sweep

from dse_util import HEAD, write_exp

SMALL = """\
# the worker pool is what these tests exercise: no vectorised path
evaluator: batch
axes:
  units.sa.rows: [64, 128]
  memory.dram.bandwidth_gb_s: [128, 512]
derived:
  units.sa.cols: units.sa.rows
objectives: {latency_s: min, utilization: max}
"""

# version A and an edited version B: one derived metric changed, one removed, one added (reading
# another derived metric), and the metric constraint changed
DERIVED_A = """\
derived_metrics:
  dm: latency_s * 2
  bpt: (bytes.dram_read + bytes.dram_write) / tokens
constraints: ['latency_s <= 1e-5']
"""
DERIVED_B = """\
derived_metrics:
  dm: latency_s * 3 + units.sa.cols
  dm2: dm / tokens
constraints: ['latency_s <= 1']
"""


def frame(store: Path) -> pd.DataFrame:
    """Every stored row (failed ones too), as ``load`` returns them."""
    return load_results(store, status=None)


def same_rows(a: Path, b: Path) -> None:
    """The two stores hold the same rows, column by column, bit for bit."""
    fa, fb = frame(a), frame(b)
    assert sorted(fa.columns) == sorted(fb.columns)
    fa = fa.sort_values("key", ignore_index=True)
    fb = fb.sort_values("key", ignore_index=True)[list(fa.columns)]
    pd.testing.assert_frame_equal(fa, fb, check_exact=True)


def fail_when(monkeypatch: pytest.MonkeyPatch, bandwidth: float) -> None:
    """Make the simulation raise for designs with this DRAM bandwidth (``workers=1``)."""
    real = evaluate.simulate

    def flaky(arch: Any, trace: Any, fidelity: str) -> Any:
        if arch.memories["dram"].config.bandwidth_gb_s == bandwidth:
            raise RuntimeError("transient failure")
        return real(arch, trace, fidelity)
    monkeypatch.setattr(evaluate, "simulate", flaky)
    # per point: the patch sits in simulate, which batched points skip (dse/batch.py)
    monkeypatch.setattr(backends, "make_evaluator", evaluate.Evaluator)


# ---------------------------------------------------------------------------- failed points

def test_resume_retries_failed_points_and_keep_failed_does_not(tmp_path, monkeypatch, capsys):
    exp, store = write_exp(tmp_path, SMALL), tmp_path / "s"
    with monkeypatch.context() as m:
        fail_when(m, 512)
        first = run_sweep(exp, store, workers=1)
    assert (first.evaluated, first.failed, first.retried) == (4, 2, 0)
    bad = frame(store).query("status == 'error'")["key"].tolist()
    assert len(bad) == 2

    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--keep-failed",
                 "--workers", "1", "--json", "-"]) == 0
    kept = json.loads(capsys.readouterr().out)
    assert (kept["retried"], kept["evaluated"], kept["skipped"]) == (0, 0, 4)
    assert sorted(frame(store).query("status == 'error'")["key"]) == sorted(bad)

    again = run_sweep(exp, store, workers=1, resume=True)
    assert (again.retried, again.evaluated, again.skipped, again.failed) == (2, 2, 2, 0)
    df = frame(store)
    assert df["key"].is_unique and len(df) == 4 and (df["status"] == "ok").all()
    run_sweep(exp, tmp_path / "fresh", workers=1)
    same_rows(store, tmp_path / "fresh")
    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--workers", "1"]) == 0
    assert "retried" not in capsys.readouterr().out  # nothing failed: nothing to retry


def test_cli_summary_says_how_many_points_were_retried(tmp_path, monkeypatch, capsys):
    exp, store = write_exp(tmp_path, SMALL), tmp_path / "s"
    with monkeypatch.context() as m:
        fail_when(m, 128)
        run_sweep(exp, store, workers=1)
    assert main(["sweep", str(exp), "--store", str(store), "--resume", "--workers", "1"]) == 0
    assert "2 failed points retried" in capsys.readouterr().out
    # --keep-failed without --resume is a mistake, said in one line (exit 2)
    assert main(["sweep", str(exp), "--store", str(tmp_path / "new"), "--keep-failed"]) == 2
    assert "--keep-failed only applies to --resume" in capsys.readouterr().err


def test_a_retried_row_supersedes_the_error_row_before_and_after_compaction(tmp_path,
                                                                             monkeypatch):
    exp, store = write_exp(tmp_path, SMALL), tmp_path / "s"
    with monkeypatch.context() as m:
        fail_when(m, 512)
        run_sweep(exp, store, workers=1)
    run_sweep(exp, tmp_path / "ok", workers=1)
    part = next((tmp_path / "ok" / "parts").glob("part-*.parquet"))
    good = {r["key"]: r for r in pq.read_table(part).to_pylist()}  # rows as a sweep stores them
    rs = ResultStore(store)
    bad = rs.load(status="error")["key"].tolist()
    rs.lock()
    rs.append([dict(good[bad[0]])])                       # not allowed to replace: skipped
    assert len(list((store / "parts").glob("part-*"))) == 1
    rs.append([dict(good[bad[0]])], replace={bad[0]})     # a retry: a newer part
    assert len(list((store / "parts").glob("part-*"))) == 2
    for reader in (rs, ResultStore(store)):
        df = reader.load(status=None)
        assert df["key"].is_unique and len(df) == 4
        assert df.set_index("key").loc[bad[0], "status"] == "ok"
        assert reader.failed_keys() == {bad[1]}
    assert len(load_results(store)) == 3
    rs.compact()
    rs.unlock()
    assert len(list((store / "parts").glob("part-*"))) == 1
    df = frame(store)
    assert df["key"].is_unique and (df.set_index("key").loc[bad[0], "status"] == "ok")


def test_optimiser_retries_failed_points_and_replays_its_history(tmp_path, monkeypatch):
    body = SMALL + "strategy: {kind: optuna, sampler: nsga2, budget: 8, population: 4, seed: 1}\n"
    exp, store = write_exp(tmp_path, body), tmp_path / "s"
    with monkeypatch.context() as m:
        fail_when(m, 512)
        first = run_sweep(exp, store, workers=1)
    failed = set(frame(store).query("status == 'error'")["key"])
    assert first.failed > 0
    again = run_sweep(exp, store, workers=1, resume=True)
    assert again.retried == len(failed) and again.failed == 0
    run_sweep(exp, tmp_path / "fresh", workers=1)  # the history a run without failures has
    df, fresh = frame(store), frame(tmp_path / "fresh")
    assert df["key"].is_unique and (df["status"] == "ok").all()
    assert set(fresh["key"]) <= set(df["key"])
    cols = list(fresh.columns)
    pd.testing.assert_frame_equal(df[df["key"].isin(fresh["key"])].reset_index(drop=True)[cols],
                                  fresh, check_exact=True)
    kept = run_sweep(exp, store, workers=1, resume=True)
    assert (kept.retried, kept.evaluated) == (0, 0)


# ---------------------------------------------------------------------------- edited experiment

def test_resume_recomputes_derived_metrics_and_feasibility(tmp_path, capsys):
    a = write_exp(tmp_path, SMALL + DERIVED_A, name="a.yaml")
    b = write_exp(tmp_path, SMALL + DERIVED_B, name="b.yaml")
    store = tmp_path / "s"
    run_sweep(a, store, workers=1)
    old = frame(store)
    assert not old["feasible"].all() and "bpt" in old
    rep = run_sweep(b, store, workers=1, resume=True)
    assert (rep.evaluated, rep.skipped, rep.rederived) == (0, 4, 4)
    run_sweep(b, tmp_path / "fresh", workers=1)
    same_rows(store, tmp_path / "fresh")
    df = frame(store)
    assert "bpt" not in df and df["feasible"].all()      # a removed derived metric is dropped
    assert (df["dm"] == df["latency_s"] * 3 + df["units.sa.cols"]).all()
    assert (df["dm2"] == df["dm"] / df["tokens"]).all()
    # the commands that read the store see the new values
    assert main(["report", str(store), "--all", "--format", "csv", "--columns", "key,dm2"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()[1:]
    assert {l.split(",")[0]: float(l.split(",")[1]) for l in lines} == \
        dict(zip(df["key"], df["dm2"]))
    # and back to version A: rows follow it again
    run_sweep(a, store, workers=1, resume=True)
    run_sweep(a, tmp_path / "fresh_a", workers=1)
    same_rows(store, tmp_path / "fresh_a")


def test_resume_with_new_points_and_an_edit_matches_a_fresh_sweep(tmp_path):
    a = write_exp(tmp_path, SMALL + DERIVED_A, name="a.yaml")
    bigger = SMALL.replace("[64, 128]", "[64, 128, 32]") + DERIVED_B
    b = write_exp(tmp_path, bigger + "strategy: {kind: random, samples: 3, seed: 2}\n",
                  name="b.yaml")
    store = tmp_path / "s"
    run_sweep(a, store, workers=1)
    rep = run_sweep(b, store, workers=1, resume=True)
    assert rep.rederived == 4 and len(ResultStore(store)) > 4
    # rows of designs the new sample leaves out are recomputed as well
    run_sweep(write_exp(tmp_path, bigger, name="grid.yaml"), tmp_path / "grid", workers=1)
    df, grid = frame(store), frame(tmp_path / "grid")
    assert len(df) < len(grid)
    grid = grid[grid["key"].isin(df["key"])].reset_index(drop=True)[list(df.columns)]
    pd.testing.assert_frame_equal(df, grid, check_exact=True)
    # and a version without derived metrics or constraints drops their columns
    c = write_exp(tmp_path, SMALL.replace("[64, 128]", "[64, 128, 32]"), name="c.yaml")
    run_sweep(c, store, workers=1, resume=True)
    run_sweep(c, tmp_path / "fresh", workers=1)
    same_rows(store, tmp_path / "fresh")
    assert not {"dm", "dm2", "bpt"} & set(frame(store).columns)


def test_resume_updates_per_token_metrics_after_a_tokens_edit(tmp_path):
    body = SMALL + "derived_metrics: {s_per_token: latency_s / tokens}\n"
    a = write_exp(tmp_path, body, name="a.yaml")
    b = write_exp(tmp_path, body, head=HEAD.replace("{trace: tiny.yaml}",
                                                    "{trace: tiny.yaml, tokens: 8}"),
                  name="b.yaml")
    store = tmp_path / "s"
    run_sweep(a, store, workers=1)
    assert (frame(store)["tokens"] == 4).all()  # from the trace's meta (decode, batch 4)
    run_sweep(b, store, workers=1, resume=True)
    run_sweep(b, tmp_path / "fresh", workers=1)
    same_rows(store, tmp_path / "fresh")
    df = frame(store)
    assert (df["tokens"] == 8).all()
    assert (df["tokens_per_s"] == 8 / df["latency_s"]).all()
    assert (df["s_per_token"] == df["latency_s"] / 8).all()
    if "energy_j" in df:  # the per-token energy follows the workload's tokens too
        assert (df["energy_per_token_j"] == df["energy_j"] / 8).all()


def test_rewritten_store_is_deterministic_and_crash_safe(tmp_path):
    a = write_exp(tmp_path, SMALL + DERIVED_A, name="a.yaml")
    b = write_exp(tmp_path, SMALL + DERIVED_B, name="b.yaml")
    for s in ("s1", "s2"):
        run_sweep(a, tmp_path / s, workers=1)
    old_part = next((tmp_path / "s1" / "parts").glob("part-*.parquet"))
    old_bytes = old_part.read_bytes()
    run_sweep(b, tmp_path / "s1", workers=1, resume=True)
    run_sweep(b, tmp_path / "s2", workers=2, resume=True)
    first = frame(tmp_path / "s1")
    pd.testing.assert_frame_equal(first, frame(tmp_path / "s1"), check_exact=True)
    pd.testing.assert_frame_equal(first, frame(tmp_path / "s2"), check_exact=True)
    # a resume with nothing changed leaves the rows alone
    again = run_sweep(b, tmp_path / "s1", workers=1, resume=True)
    assert (again.rederived, again.evaluated) == (0, 0)
    pd.testing.assert_frame_equal(first, frame(tmp_path / "s1"), check_exact=True)
    # a kill -9 after the rewritten part was renamed into place, before the old part was
    # deleted: both are on disk, and the newer rows win
    assert not old_part.exists()
    old_part.write_bytes(old_bytes)
    pd.testing.assert_frame_equal(first, frame(tmp_path / "s1"), check_exact=True)
    assert len(ResultStore(tmp_path / "s1")) == 4


def test_a_store_from_before_derived_columns_were_recorded_is_brought_up_to_date(tmp_path):
    a = write_exp(tmp_path, SMALL + DERIVED_A, name="a.yaml")
    b = write_exp(tmp_path, SMALL + DERIVED_B, name="b.yaml")
    store = tmp_path / "s"
    run_sweep(a, store, workers=1)
    mf = store / "manifest.json"
    m = json.loads(mf.read_text())
    del m["derivation"], m["derived_columns"]  # as the store of an earlier accelsim has it
    mf.write_text(json.dumps(m))
    assert run_sweep(b, store, workers=1, resume=True).rederived == 4
    run_sweep(b, tmp_path / "fresh", workers=1)
    same_rows(store, tmp_path / "fresh")
