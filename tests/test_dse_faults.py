"""Sweeps under faults: a worker killed as the OOM killer would, kills of the sweep a few
seconds apart, what killed runs leave behind, and a Ray address that cannot be reached."""
from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

import accelsim.dse.backends as backends
import accelsim.dse.batch as batch
import accelsim.dse.evaluate as evaluate
import accelsim.dse.runner as runner
from accelsim.cli import main
from accelsim.dse import ResultStore, load_results, run_sweep
from accelsim.errors import AccelsimError

from dse_util import ARCH, LLAMA, ROOT, children, write_exp

GRID = """\
# the worker pool is what these tests exercise: no vectorised path
evaluator: batch
axes:
  units.sa.rows: [64, 128]
  units.sa.sram.ifmap_kb: [256, 1024]
  memory.dram.bandwidth_gb_s: [128, 512, 2048]
derived:
  units.sa.cols: units.sa.rows
objectives: {latency_s: min, utilization: max}
"""
DRIVER = os.getpid()
DEADLY = (128, 1024.0, 512.0)  # rows, ifmap_kb, bandwidth of the point that kills its worker


def frame(store: Path) -> pd.DataFrame:
    return load_results(store, status=None)


def is_deadly(arch: Any) -> bool:
    sa, dram = arch.units["sa"].config, arch.memories["dram"].config
    return (sa.rows, sa.sram.ifmap_kb, dram.bandwidth_gb_s) == DEADLY


def kill_worker_on_deadly_point(monkeypatch: pytest.MonkeyPatch, once: Path | None = None,
                                which: Any = is_deadly) -> None:
    """The simulation of the DEADLY point (``which``) SIGKILLs the worker process running it
    (never the driver); with ``once``, only the first time (a marker file, seen across
    processes). Workers are forked (forced), so they inherit this patch."""
    monkeypatch.setenv("ACCELSIM_MP_START", "fork")
    real = evaluate.simulate

    def deadly(arch: Any, trace: Any, fidelity: str) -> Any:
        if os.getpid() != DRIVER and which(arch) and (once is None or first(once)):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(arch, trace, fidelity)
    monkeypatch.setattr(evaluate, "simulate", deadly)
    real_retime = batch._retime  # a point evaluated from its group's plan (dse/batch.py)

    def deadly_retime(ctx: Any, dev: Any) -> Any:
        if os.getpid() != DRIVER and which(dev) and (once is None or first(once)):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_retime(ctx, dev)
    monkeypatch.setattr(batch, "_retime", deadly_retime)


def first(marker: Path) -> bool:
    """True for the one process that creates ``marker`` (atomically)."""
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


def no_live_children() -> bool:
    deadline = time.time() + 10
    while mp.active_children() and time.time() < deadline:
        time.sleep(0.1)
    return not mp.active_children()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    """The GRID sweep without faults (2 workers)."""
    tmp = tmp_path_factory.mktemp("fresh")
    run_sweep(write_exp(tmp, GRID), tmp / "s", workers=2)
    return tmp / "s"


# ---------------------------------------------------------------------------- a dead worker

def test_a_point_that_kills_its_worker_is_a_failed_row_and_the_sweep_goes_on(tmp_path,
                                                                            monkeypatch, fresh):
    kill_worker_on_deadly_point(monkeypatch)
    exp, store = write_exp(tmp_path, GRID), tmp_path / "s"
    for chunk in (None, 12, 1):  # the deadly point alone, or among others in its chunk
        s = store.with_name(f"s{chunk}")
        rep = run_sweep(exp, s, workers=2, chunk_size=chunk)
        assert (rep.evaluated, rep.failed, rep.worker_deaths) == (12, 1, 2)  # run, then again
        df = frame(s)
        bad = df[df["status"] == "error"]
        assert len(bad) == 1 and tuple(bad[["units.sa.rows", "units.sa.sram.ifmap_kb",
                                            "memory.dram.bandwidth_gb_s"]].iloc[0]) == DEADLY
        msg = bad["error"].iloc[0]
        assert "worker process evaluating this point died (killed by SIGKILL)" in msg
        assert "each of 2 runs" in msg and "OOM killer" in msg
        assert bad["config"].iloc[0] == frame(fresh).set_index("key").loc[bad["key"].iloc[0],
                                                                          "config"]
        # every other point is exactly what a sweep without the fault stores
        ok = df[df["status"] == "ok"].reset_index(drop=True)
        want = frame(fresh)
        want = want[want["key"] != bad["key"].iloc[0]].reset_index(drop=True)
        pd.testing.assert_frame_equal(ok[list(want.columns)], want, check_exact=True)
        run = ResultStore(s).manifest["runs"][-1]
        assert run["status"] == "finished" and run["worker_deaths"] == 2
        assert no_live_children()
    # the failed point is retried by --resume (here it dies again; nothing else runs)
    again = run_sweep(exp, store.with_name("sNone"), workers=2, resume=True)
    assert (again.evaluated, again.retried, again.failed) == (1, 1, 1)


def test_a_point_whose_worker_died_once_is_retried_in_a_fresh_worker(tmp_path, monkeypatch,
                                                                     fresh):
    kill_worker_on_deadly_point(monkeypatch, once=tmp_path / "died")
    rep = run_sweep(write_exp(tmp_path, GRID), tmp_path / "s", workers=2)
    assert (tmp_path / "died").exists() and rep.worker_deaths == 1 and rep.failed == 0
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), frame(fresh), check_exact=True)


class ThreadedProgress:
    """A progress sink that runs a thread while the sweep runs (as the rich bar does)."""

    def start(self, total: int, done: int, label: str) -> None:
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self.stop_event.wait, daemon=True)
        self.thread.start()

    def update(self, n: int, tracker: Any) -> None:
        pass

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join()


def test_a_fresh_worker_is_not_forked_once_the_driver_has_threads(tmp_path, monkeypatch, fresh):
    # the first workers are forked (and inherit the deadly patch); the replacement starts once
    # a thread runs, so it comes from the fork server, without the patch: the retry succeeds
    kill_worker_on_deadly_point(monkeypatch)
    monkeypatch.delenv("ACCELSIM_MP_START")
    monkeypatch.setattr(backends, "_start_method", lambda: "fork")
    rep = run_sweep(write_exp(tmp_path, GRID), tmp_path / "s", workers=2,
                    progress=ThreadedProgress())
    assert rep.worker_deaths == 1 and rep.failed == 0
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), frame(fresh), check_exact=True)


def test_an_optimiser_sweep_survives_a_dead_worker(tmp_path, monkeypatch):
    body = GRID + "strategy: {kind: optuna, sampler: nsga2, budget: 12, population: 6, seed: 1}\n"
    exp = write_exp(tmp_path, body)
    run_sweep(exp, tmp_path / "fresh", workers=2)
    # the first point a worker simulates kills it
    kill_worker_on_deadly_point(monkeypatch, once=tmp_path / "died", which=lambda arch: True)
    rep = run_sweep(exp, tmp_path / "s", workers=2)
    assert (tmp_path / "died").exists() and rep.worker_deaths == 1 and rep.failed == 0
    pd.testing.assert_frame_equal(frame(tmp_path / "s"), frame(tmp_path / "fresh"),
                                  check_exact=True)


# ---------------------------------------------------------------------------- prompt commits

def store_rows(store: Path) -> int:
    """Distinct keys in the store's parts, read without the store's own code (which may
    rewrite the index): parts are whole or absent."""
    for _ in range(20):
        try:
            keys: set[str] = set()
            for p in (store / "parts").glob("part-*.parquet"):
                keys.update(pq.read_table(p, columns=["key"]).column(0).to_pylist())
            return len(keys)
        except (FileNotFoundError, OSError):
            time.sleep(0.05)  # a compaction deleted a part just listed
    raise AssertionError("cannot read the parts")


def test_rows_are_committed_while_a_slow_point_is_still_running(tmp_path, monkeypatch):
    # one chunk holds all 12 points; the last is slow and waits until the other 11 are in the
    # store: they are committed on time (FLUSH_SECONDS), not when the chunk ends
    monkeypatch.setenv("ACCELSIM_MP_START", "fork")
    store, seen = tmp_path / "s", tmp_path / "seen"
    real = evaluate.simulate

    def slow_last(arch: Any, trace: Any, fidelity: str) -> Any:
        sa, dram = arch.units["sa"].config, arch.memories["dram"].config
        if (sa.rows, sa.sram.ifmap_kb, dram.bandwidth_gb_s) == (128, 1024.0, 2048.0):
            deadline = time.time() + 20
            while time.time() < deadline and store_rows(store) < 11:
                time.sleep(0.05)
            seen.write_text(str(store_rows(store)))
        return real(arch, trace, fidelity)
    monkeypatch.setattr(evaluate, "simulate", slow_last)
    # per point: the patch sits in simulate, which batched points skip (dse/batch.py)
    monkeypatch.setattr(backends, "make_evaluator", evaluate.Evaluator)
    t0 = time.time()
    rep = run_sweep(write_exp(tmp_path, GRID), store, workers=2, chunk_size=12)
    assert rep.evaluated == 12 and seen.read_text() == "11"
    assert time.time() - t0 < 15
    assert runner.FLUSH_SECONDS <= 1 and backends.TICK_S <= runner.FLUSH_SECONDS


def test_a_serial_sweep_commits_every_flush_seconds(tmp_path, monkeypatch):
    store, on_disk = tmp_path / "s", []
    real = evaluate.simulate

    def slow(arch: Any, trace: Any, fidelity: str) -> Any:
        time.sleep(0.12)
        return real(arch, trace, fidelity)
    monkeypatch.setattr(evaluate, "simulate", slow)
    # per point: the patch sits in simulate, which batched points skip (dse/batch.py)
    monkeypatch.setattr(backends, "make_evaluator", evaluate.Evaluator)

    class Watch(ThreadedProgress):
        def start(self, total: int, done: int, label: str) -> None:
            self.n = 0

        def update(self, n: int, tracker: Any) -> None:
            self.n += n
            on_disk.append((self.n, store_rows(store)))

        def stop(self) -> None:
            pass
    run_sweep(write_exp(tmp_path, GRID), store, workers=1, chunk_size=12, progress=Watch())
    # 0.12 s a point, a flush every 0.5 s: by the 10th point, at least 4 are in the store
    assert dict(on_disk)[10] >= 4, on_disk


KILL_BODY = """\
# the worker pool is what these tests exercise: no vectorised path
evaluator: batch
axes:
  units.sa.sram.ifmap_kb: [512, 1024, 2048, 4096]
  units.sa.rows: [64, 128, 192, 256]
  memory.dram.bandwidth_gb_s: {range: [100, 2000, 50]}
"""
TOTAL = 4 * 4 * 39


@pytest.fixture(scope="module")
def llama(tmp_path_factory) -> tuple[Path, Path]:
    """The 624-point LLaMA experiment, and a store of it swept without faults."""
    tmp = tmp_path_factory.mktemp("llama")
    head = f"name: kill\narchs: {{sa: {ARCH}}}\nworkloads: {{w: {LLAMA}}}\n"
    exp = write_exp(tmp, KILL_BODY, head=head)
    run_sweep(exp, tmp / "fresh", workers=2)
    return exp, tmp / "fresh"


def sweep_proc(exp: Path, store: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "ACCELSIM_MP_START": "fork"}
    return subprocess.Popen([sys.executable, "-m", "accelsim.cli", "sweep", str(exp), "--store",
                             str(store), "--workers", "2", "--no-progress", *extra], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_rows(store: Path, proc: subprocess.Popen, more_than: int) -> int:
    deadline = time.time() + 120
    while time.time() < deadline:
        n = store_rows(store) if (store / "parts").is_dir() else 0
        if n > more_than:
            return n
        if proc.poll() is not None:
            return store_rows(store)
        time.sleep(0.01)
    raise AssertionError("the sweep committed nothing")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_cli_sweep_survives_the_oom_killer_taking_a_worker(tmp_path, llama):
    exp, fresh_store = llama
    store = tmp_path / "s"
    proc = sweep_proc(exp, store, "--json", "-")
    wait_for_rows(store, proc, 0)
    workers = children(proc.pid)
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "BrokenProcessPool" not in err
    rep = json.loads(out)
    assert rep["evaluated"] == TOTAL and rep["failed"] == 0 and rep["worker_deaths"] == 1
    pd.testing.assert_frame_equal(frame(store), frame(fresh_store), check_exact=True)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the workers through /proc")
def test_kills_in_quick_succession_make_progress_and_leave_nothing_stale(tmp_path, llama):
    exp, fresh_store = llama
    store = tmp_path / "s"
    # each worker gets one chunk of half the sweep: committing a chunk at a time would store
    # nothing until the end; the sweep is killed as soon as it has committed anything new
    counts = [0]
    for _ in range(3):
        args = ["--chunk-size", str(TOTAL // 2)] + (["--resume"] if counts[-1] else [])
        proc = sweep_proc(exp, store, *args)
        n = wait_for_rows(store, proc, counts[-1])
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        counts.append(store_rows(store))
        if counts[-1] == TOTAL:
            break
    assert all(b > a for a, b in zip(counts, counts[1:])), counts
    assert counts[1] < TOTAL // 2, counts  # committed well before a chunk ended
    runs = ResultStore(store).manifest["runs"]
    assert runs[-1]["status"] in ("running", "finished")
    # what a kill -9 in the middle of a write leaves: temporary files
    (store / "parts" / ".tmp-0123abcd-part-000042.parquet").write_bytes(b"PAR1 torn")
    (store / ".tmp-0123abcd-manifest.json").write_text('{"torn": ')
    rep = run_sweep(exp, store, workers=2, resume=True)
    assert rep.evaluated == TOTAL - counts[-1]
    assert not list(store.glob(".tmp-*")) and not list((store / "parts").glob(".tmp-*"))
    runs = ResultStore(store).manifest["runs"]
    assert [r["status"] for r in runs] == ["killed"] * (len(runs) - 1) + ["finished"]
    assert all(r["pid"] and r["host"] for r in runs)
    pd.testing.assert_frame_equal(frame(store), frame(fresh_store), check_exact=True)


def test_a_new_run_marks_a_stale_running_run_killed_and_removes_temporaries(tmp_path):
    exp, store = write_exp(tmp_path, GRID), tmp_path / "s"
    run_sweep(exp, store, workers=1)
    mf = store / "manifest.json"
    m = json.loads(mf.read_text())
    m["runs"][-1]["status"] = "running"  # as a kill -9 leaves it
    mf.write_text(json.dumps(m))
    (store / "parts" / ".tmp-feed-part-000002.parquet").write_bytes(b"torn")
    rs = ResultStore(store)
    assert len(rs) == 12 and rs.manifest["runs"][-1]["status"] == "running"  # readers: as is
    assert (store / "parts" / ".tmp-feed-part-000002.parquet").exists()
    rep = run_sweep(exp, store, workers=1, resume=True)
    assert rep.evaluated == 0
    runs = ResultStore(store).manifest["runs"]
    assert [r["status"] for r in runs] == ["killed", "finished"]
    assert "found by a later run" in runs[0]["note"]
    assert not list((store / "parts").glob(".tmp-*"))
    rs = ResultStore(store)
    rs.lock()
    rs.unlock()
    assert rs.removed_temporaries == 0


# ---------------------------------------------------------------------------- ray

def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_an_unreachable_ray_address_is_one_clear_error_at_once(tmp_path, capsys, scheme):
    pytest.importorskip("ray")
    import ray
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    exp, store = write_exp(tmp_path, GRID), tmp_path / "s"
    address = f"{scheme}127.0.0.1:{closed_port()}"
    t0 = time.time()
    with pytest.raises(AccelsimError, match=f"cannot reach the Ray cluster at {address}"):
        run_sweep(exp, store, backend="ray", address=address)
    assert time.time() - t0 < 10 and not store.exists()  # nothing simulated, no store
    assert main(["sweep", str(exp), "--store", str(store), "--backend", "ray",
                 "--address", address]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the Ray cluster" in err and "Traceback" not in err
    assert time.time() - t0 < 20 and not store.exists()


@pytest.mark.parametrize("address", ["nonsense", "host:", "ray://:10001", "h:99999"])
def test_a_malformed_ray_address_is_refused(tmp_path, address):
    with pytest.raises(AccelsimError, match="expected host:port"):
        backends.check_ray_address(address)


def test_an_address_without_the_ray_backend_is_refused_before_any_store(tmp_path):
    exp, store = write_exp(tmp_path, GRID), tmp_path / "s"
    with pytest.raises(AccelsimError, match="--address is for --backend ray"):
        run_sweep(exp, store, address="127.0.0.1:6379")
    with pytest.raises(AccelsimError, match="unknown backend"):
        run_sweep(exp, store, backend="dask")
    assert not store.exists()


def _deadly_ray_chunk(token: str, exp_ref: list, tasks: list, real: Any = backends._ray_chunk):
    """A Ray task whose worker dies if its chunk holds the DEADLY point."""
    for t in tasks:
        v = t.values
        if (v["units.sa.rows"], float(v["units.sa.sram.ifmap_kb"]),
                float(v["memory.dram.bandwidth_gb_s"])) == DEADLY:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(token, exp_ref, tasks)


def test_a_ray_task_whose_worker_dies_is_split_and_its_point_fails(tmp_path, monkeypatch, fresh):
    ray = pytest.importorskip("ray")
    import ray.cloudpickle
    if ray.is_initialized():
        pytest.skip("a Ray instance is already running in this process")
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # ship the deadly task
    monkeypatch.setattr(backends, "_ray_chunk", _deadly_ray_chunk)
    monkeypatch.setattr(backends, "RAY_TASK_RETRIES", 0)  # Ray's own retries: only slower
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        rep = run_sweep(write_exp(tmp_path, GRID), tmp_path / "s", backend="ray", chunk_size=4)
    finally:
        ray.shutdown()
        ray.cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert (rep.evaluated, rep.failed, rep.worker_deaths) == (12, 1, 2)  # its chunk, then it
    df = frame(tmp_path / "s")
    bad = df[df["status"] == "error"]
    assert len(bad) == 1 and "died (Ray: WorkerCrashedError)" in bad["error"].iloc[0]
    want = frame(fresh)
    want = want[want["key"] != bad["key"].iloc[0]].reset_index(drop=True)
    ok = df[df["status"] == "ok"].reset_index(drop=True)
    pd.testing.assert_frame_equal(ok[list(want.columns)], want, check_exact=True)
