"""Where chunks of points run: in this process, a pool of local worker processes, or a Ray
cluster.

Every backend evaluates points with the same ``Evaluator.run``, so rows are identical whichever
backend and worker count ran them; only the order in which they finish differs (the store sorts
rows). A backend is a context manager with ``map_chunks(chunks)``, which yields lists of
finished rows as they come (the local backends row by row, Ray chunk by chunk), and an empty
list every ``TICK_S`` seconds in which nothing finished, so that the caller can commit what it
holds on time.

A local worker that dies (killed by the OOM killer, a crash in native code, a kill -9) does not
end the sweep: the points it had not answered yet go to the other workers, a fresh worker takes
its place, and the point it was evaluating is run once more, alone, in a fresh worker
(``DEAD_WORKER_RETRIES``); if that kills its worker too, it is stored as a failed point whose
error says how the worker died. On Ray, Ray itself retries a task whose worker died; a chunk
that still dies is split into single points, and a point that still dies is stored as failed.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import threading
import time
import uuid
from collections import deque
from multiprocessing.connection import wait as wait_ready
from typing import Any, Iterable, Iterator

from .. import __version__
from ..errors import AccelsimError
from .batch import make_evaluator
from .evaluate import Evaluator, Task, _fill_params, point_arch, point_config
from .experiment import Experiment

Rows = list[dict[str, Any]]
_WORKER: dict[str, Evaluator] = {}

#: runs more of a point whose worker process died, alone in a fresh worker, before it is stored
#: as a failed point (a point that died once may have been the OOM killer's pick by chance)
DEAD_WORKER_RETRIES = 1
#: seconds ``map_chunks`` waits for a row before it yields an empty list (a tick)
TICK_S = 0.25
#: a local worker sends the rows it finished every this many seconds (and at the end of each
#: chunk): fewer messages for the driver to read than one per point
ROW_BATCH_S = 0.05
#: seconds to reach a Ray cluster's address (a TCP connect) before giving up
RAY_CONNECT_TIMEOUT_S = 5.0
#: Ray's retries of a task whose worker died (then the chunk is split, then a point fails)
RAY_TASK_RETRIES = 2


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone (the driver, or the fork server, which ends
    with the driver): a kill -9 of the driver leaves no one to shut the pool down."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


class _Outbox:
    """A worker's finished rows, sent to the driver as a list every ``ROW_BATCH_S`` by a
    thread (so rows finished before a slow point do not wait for it), or when asked."""

    def __init__(self, conn: Any) -> None:
        self.conn, self.rows, self.lock = conn, [], threading.Lock()
        threading.Thread(target=self._loop, daemon=True).start()

    def put(self, row: dict[str, Any]) -> None:
        with self.lock:
            self.rows.append(row)

    def send(self) -> None:
        with self.lock:
            if self.rows:
                self.conn.send(self.rows)
                self.rows = []

    def _loop(self) -> None:
        while True:
            time.sleep(ROW_BATCH_S)
            try:
                self.send()
            except OSError:  # the driver is gone
                os._exit(0)


def _worker_main(conn: Any, exp: Experiment, current: Any) -> None:
    """A local worker: build the evaluator once, then answer each chunk sent to it with lists
    of rows as points finish (``_Outbox``); ``None`` (or the driver gone) ends it. While a
    point runs, ``current`` (shared memory) holds its number among all the points sent to this
    worker, else -1, so that the driver knows which point a death interrupted. Ctrl-C is the
    driver's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    try:
        ev = _WORKER["local"] = make_evaluator(exp)
    except BaseException as e:  # noqa: BLE001 - told to the driver, which stops the sweep
        conn.send(("fatal", f"{type(e).__name__}: {e}"))
        return
    seq, out = 0, _Outbox(conn)
    while True:
        try:
            tasks = conn.recv()
        except (EOFError, OSError):
            return
        if tasks is None:
            return
        for t in tasks:
            current.value = seq
            row = ev.run(t)
            current.value = -1
            out.put(row)
            seq += 1
        out.send()


class SerialBackend:
    """Runs points in this process, one after another (``workers=1``)."""

    def __init__(self, exp: Experiment) -> None:
        self.evaluator = make_evaluator(exp)
        self.workers = 1
        self.deaths = 0

    def __enter__(self) -> "SerialBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        for chunk in chunks:
            for t in chunk:
                yield [self.evaluator.run(t)]


def _start_method() -> str:
    """fork where it is safe (no other threads yet), else forkserver; ACCELSIM_MP_START wins."""
    forced = os.environ.get("ACCELSIM_MP_START")
    if forced:
        return forced
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


def death_text(exitcode: int | None) -> str:
    """How a worker process ended: ``killed by SIGKILL`` or ``exit code 3``."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


def dead_row(exp: Experiment, task: Task, how: str, runs: int) -> dict[str, Any]:
    """The stored row of a point that killed its worker ``runs`` times (the last: ``how``);
    the same columns as an ``Evaluator`` error row, with the point's resolved config."""
    base = exp.bases[task.base]
    row: dict[str, Any] = {
        "point": task.index, "key": task.key, "base": task.base, "family": base.family,
        "workload": task.workload, "status": "error", "error": None, "feasible": False,
        "fidelity": exp.fidelity, "accelsim_version": __version__, "config": None,
    }
    _fill_params(row, task.values, exp.param_types)
    try:
        row["config"] = point_config(exp, task.workload, task.values,
                                     point_arch(exp, base, task.values))[0]
    except Exception:  # noqa: BLE001 - the row is still worth storing without it
        pass
    times = "" if runs == 1 else f", in each of {runs} runs (the last in a fresh worker)"
    oom = "; the OOM killer does this when memory runs out" if "SIGKILL" in how else ""
    row["error"] = f"the worker process evaluating this point died ({how}){times}{oom}"
    return row


class _Worker:
    """One worker process, its pipe, the points sent to it not answered yet (in order), how
    many it answered, and which it is running (``current``: see ``_worker_main``)."""

    def __init__(self, ctx: Any, exp: Experiment) -> None:
        self.conn, child = ctx.Pipe(duplex=True)
        self.current = ctx.RawValue("q", -1)
        self.proc = ctx.Process(target=_worker_main, args=(child, exp, self.current),
                                daemon=True)
        self.proc.start()
        child.close()  # the worker's end lives in the worker only: its death reads as EOF
        self.tasks: deque[Task] = deque()
        self.answered = 0

    def running(self) -> Task | None:
        """The point it is evaluating (None between points)."""
        k = self.current.value - self.answered
        return self.tasks[k] if 0 <= k < len(self.tasks) and self.current.value >= 0 else None

    def stop(self, wait: float) -> None:
        """Ask it to end (``wait`` > 0) or terminate it now; then reap it."""
        if wait > 0 and self.proc.is_alive():
            try:
                self.conn.send(None)
            except OSError:
                pass
            self.proc.join(wait)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(5)
        self.conn.close()


class LocalBackend:
    """A pool of worker processes on this machine (all cores by default). Each worker gets
    one chunk at a time and answers it row by row; a dead worker is replaced (module doc)."""

    def __init__(self, exp: Experiment, workers: int) -> None:
        self.exp, self.workers = exp, workers
        self.deaths = 0       # worker processes that died during the sweep
        self._pool: list[_Worker] = []
        self._method = ""

    def __enter__(self) -> "LocalBackend":
        # start every worker now, before any progress thread (fork is safe only without threads)
        self._method = _start_method()
        self._pool = [self._spawn(self._method) for _ in range(self.workers)]
        return self

    def _spawn(self, method: str) -> _Worker:
        ctx = mp.get_context(method)
        if method == "forkserver":
            ctx.set_forkserver_preload(["accelsim.dse.backends"])
        return _Worker(ctx, self.exp)

    def _respawn(self) -> _Worker:
        """A fresh worker mid-sweep: forked only where that is still safe (no threads yet, or
        fork forced), else from the fork server."""
        method = self._method
        if method == "fork" and not os.environ.get("ACCELSIM_MP_START") \
                and threading.active_count() > 1:
            method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
        return self._spawn(method)

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        # finished: let the workers end; interrupted or failed: stop them now
        for w in self._pool:
            w.stop(5.0 if exc_type is None else 0.0)
        self._pool = []

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        it = iter(chunks)
        queue: deque[list[Task]] = deque()     # points of dead workers, sent before new chunks
        runs: dict[str, int] = {}              # deaths while evaluating each point
        while True:
            for w in self._pool:
                if not w.tasks:
                    chunk = queue.popleft() if queue else next(it, None)
                    if chunk is None:
                        break
                    w.tasks.extend(chunk)
                    try:
                        w.conn.send(chunk)
                    except OSError:  # died idle: seen below through its sentinel
                        pass
            busy = [w for w in self._pool if w.tasks]
            if not busy:
                return
            ready = set(wait_ready([w.conn for w in busy] + [w.proc.sentinel for w in self._pool],
                                   timeout=TICK_S))
            rows: Rows = []
            for w in list(self._pool):
                dead = w.proc.sentinel in ready
                if w.conn in ready or dead:
                    dead = self._read(w, rows) or dead
                if dead:
                    self._bury(w, queue, runs, rows)
            yield rows

    def _read(self, w: _Worker, rows: Rows) -> bool:
        """Take every row ``w`` has sent; True if its pipe is closed (it died)."""
        try:
            while w.conn.poll():
                msg = w.conn.recv()
                if isinstance(msg, tuple):  # ("fatal", text): it could not start
                    raise AccelsimError(f"a worker process could not start: {msg[1]}")
                for row in msg:
                    task = w.tasks.popleft()
                    if row.get("key") != task.key:  # never store a row under another point
                        raise AccelsimError(f"worker answered point {row.get('point')} for "
                                            f"point {task.index}")
                    rows.append(row)
                w.answered += len(msg)
        except (EOFError, OSError):
            return True
        return False

    def _bury(self, w: _Worker, queue: deque[list[Task]], runs: dict[str, int],
              rows: Rows) -> None:
        """Replace dead worker ``w``; requeue its unanswered points, retry or fail the one it
        was evaluating."""
        w.proc.join(5)
        how = death_text(w.proc.exitcode)
        culprit = w.running()
        w.stop(0.0)
        self.deaths += 1
        fresh = self._pool[self._pool.index(w)] = self._respawn()
        # points it finished but had not sent yet, and those it had not started: run again
        rest = [t for t in w.tasks if t is not culprit]
        if rest:
            queue.appendleft(rest)
        if culprit is None:
            return  # died between points (or idle): no point to blame
        n = runs[culprit.key] = runs.get(culprit.key, 0) + 1
        if n > DEAD_WORKER_RETRIES:
            rows.append(dead_row(self.exp, culprit, how, n))
            return
        fresh.tasks.append(culprit)  # alone, in the fresh worker: a second death costs nothing
        try:                         # else, and no other worker's caches are in the way
            fresh.conn.send([culprit])
        except OSError:  # died at once: seen through its sentinel
            pass


# ---------------------------------------------------------------------------- ray

def _ray_chunk(token: str, exp_ref: list, tasks: list[Task]) -> Rows:
    """Ray task: evaluate a chunk, building the worker's evaluator on its first chunk."""
    ev = _WORKER.get(token)
    if ev is None:
        import ray
        _WORKER.clear()
        ev = _WORKER[token] = make_evaluator(ray.get(exp_ref[0]))
    return ev.run_chunk(tasks)


def check_ray_address(address: str | None) -> None:
    """Fail at once, in one line, if ``address`` (``host:port`` or ``ray://host:port``) cannot
    be reached: Ray itself retries an unreachable cluster for minutes. ``auto`` and no address
    are left to Ray (which answers at once)."""
    if not address or address == "auto" or address.startswith("local"):
        return
    hostport = address.split("://", 1)[1] if "://" in address else address
    hostport = hostport.split("/", 1)[0]
    host, sep, port = hostport.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AccelsimError(f"--address {address!r}: expected host:port, ray://host:port or "
                            f"auto")
    host = host.strip("[]")
    try:
        socket.create_connection((host, int(port)), timeout=RAY_CONNECT_TIMEOUT_S).close()
    except OSError as e:
        why = "timed out" if isinstance(e, TimeoutError) else (e.strerror or str(e) or
                                                               type(e).__name__)
        raise AccelsimError(f"cannot reach the Ray cluster at {address} ({why}, after at most "
                            f"{RAY_CONNECT_TIMEOUT_S:g} s); is it running (`ray status` on its "
                            f"head node)? Leave out --address to start a local Ray") from None


class RayBackend:
    """Chunks as Ray tasks on a cluster (``address``) or a local Ray instance (default)."""

    def __init__(self, exp: Experiment, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise AccelsimError("the ray backend needs Ray: pip install 'accelsim[ray]'") from None
        self.ray, self.exp, self.address = ray, exp, address
        self.workers = workers or 0
        self.deaths = 0
        self._owns = False

    def __enter__(self) -> "RayBackend":
        ray = self.ray
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                check_ray_address(self.address)
                kw["address"] = self.address
            else:
                kw["num_cpus"] = self.workers or os.cpu_count() or 1
            try:
                ray.init(**kw)
            except (ConnectionError, ValueError, RuntimeError) as e:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise AccelsimError(f"cannot start or join {where}: "
                                    f"{str(e).strip() or type(e).__name__}") from None
            self._owns = True
        if not self.workers:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.token = uuid.uuid4().hex
        self.ref = ray.put(self.exp)
        self.remote = ray.remote(num_cpus=1, max_retries=RAY_TASK_RETRIES)(_ray_chunk)
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._owns:
            self.ray.shutdown()

    def _died(self) -> tuple[type, ...]:
        ex = self.ray.exceptions
        return tuple(getattr(ex, n) for n in ("WorkerCrashedError", "OutOfMemoryError",
                                              "NodeDiedError") if hasattr(ex, n))

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        ray = self.ray
        it = iter(chunks)
        queue: deque[list[Task]] = deque()  # chunks of dead tasks, split into single points
        pending: dict[Any, list[Task]] = {}
        limit = 4 * self.workers
        died = self._died()
        try:
            while True:
                while len(pending) < limit:
                    chunk = queue.popleft() if queue else next(it, None)
                    if chunk is None:
                        break
                    pending[self.remote.remote(self.token, [self.ref], chunk)] = chunk
                if not pending:
                    return
                done, _ = ray.wait(list(pending), num_returns=1, timeout=TICK_S)
                if not done:
                    yield []
                    continue
                chunk = pending.pop(done[0])
                try:
                    rows = ray.get(done[0])
                except died as e:
                    self.deaths += 1
                    if len(chunk) > 1:
                        queue.extendleft([t] for t in reversed(chunk))
                        continue
                    how = type(e).__name__
                    rows = [dead_row(self.exp, chunk[0], f"Ray: {how}", 1 + RAY_TASK_RETRIES)]
                yield rows
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def check_backend(backend: str, workers: int | None, address: str | None) -> None:
    """What ``make_backend`` would refuse, checked before a store is created."""
    if backend not in ("local", "ray"):
        raise AccelsimError(f"unknown backend {backend!r}; choose 'local' or 'ray'")
    if backend == "local" and address:
        raise AccelsimError("--address is for --backend ray")
    if backend == "ray":
        try:
            import ray
        except ImportError:
            raise AccelsimError("the ray backend needs Ray: pip install 'accelsim[ray]'") from None
        if not ray.is_initialized():
            check_ray_address(address)


def make_backend(exp: Experiment, backend: str, workers: int | None,
                 address: str | None = None) -> Any:
    """The backend named ``backend`` ('local' or 'ray') with ``workers`` workers."""
    check_backend(backend, workers, None)
    if backend == "ray":
        return RayBackend(exp, workers, address)
    if address:
        raise AccelsimError("--address is for --backend ray")
    n = workers or os.cpu_count() or 1
    return SerialBackend(exp) if n == 1 else LocalBackend(exp, n)
