"""Where chunks of points run: in this process, a local process pool, or a Ray cluster.

Every backend evaluates a chunk with the same ``Evaluator.run_chunk``, so rows are identical
whichever backend and worker count ran them; only the order in which chunks finish differs
(the store sorts rows). A backend is a context manager with ``map_chunks(chunks)``, which yields
each chunk's rows as soon as it finishes.
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import threading
import time
import uuid
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Iterable, Iterator

from ..errors import AccelsimError
from .evaluate import Evaluator, Task
from .experiment import Experiment

Rows = list[dict[str, Any]]
_WORKER: dict[str, Evaluator] = {}


def _init_worker(exp: Experiment) -> None:
    """Process-pool initializer: build the worker's evaluator once; Ctrl-C is the driver's."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["local"] = Evaluator(exp)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this worker once its parent is gone (the driver, or the fork server, which ends
    with the driver): a kill -9 of the driver leaves no one to shut the pool down."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def _noop() -> None:
    return None


def _run_local(tasks: list[Task]) -> Rows:
    return _WORKER["local"].run_chunk(tasks)


class SerialBackend:
    """Runs chunks in this process, one after another (``workers=1``)."""

    def __init__(self, exp: Experiment) -> None:
        self.evaluator = Evaluator(exp)
        self.workers = 1

    def __enter__(self) -> "SerialBackend":
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        for chunk in chunks:
            yield self.evaluator.run_chunk(chunk)


def _start_method() -> str:
    """fork where it is safe (no other threads yet), else forkserver; ACCELSIM_MP_START wins."""
    forced = os.environ.get("ACCELSIM_MP_START")
    if forced:
        return forced
    if "fork" in mp.get_all_start_methods() and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"


class LocalBackend:
    """A pool of worker processes on this machine (all cores by default)."""

    def __init__(self, exp: Experiment, workers: int) -> None:
        self.exp, self.workers = exp, workers
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "LocalBackend":
        ctx = mp.get_context(_start_method())
        if ctx.get_start_method() == "forkserver":
            ctx.set_forkserver_preload(["accelsim.dse.backends"])
        self.pool = ProcessPoolExecutor(self.workers, mp_context=ctx, initializer=_init_worker,
                                        initargs=(self.exp,))
        self.pool.submit(_noop).result()  # start the workers now, before any progress thread
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        assert self.pool is not None
        if exc_type is None:
            self.pool.shutdown(wait=True)
            return
        # interrupted or failed: drop queued chunks and stop our workers now
        procs = list((getattr(self.pool, "_processes", None) or {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(timeout=5)

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        assert self.pool is not None
        it = iter(chunks)
        pending: set[Future] = set()
        limit = 4 * self.workers
        while True:
            while len(pending) < limit:
                chunk = next(it, None)
                if chunk is None:
                    break
                pending.add(self.pool.submit(_run_local, chunk))
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in sorted(done, key=id):
                yield f.result()


# ---------------------------------------------------------------------------- ray

def _ray_chunk(token: str, exp_ref: list, tasks: list[Task]) -> Rows:
    """Ray task: evaluate a chunk, building the worker's evaluator on its first chunk."""
    ev = _WORKER.get(token)
    if ev is None:
        import ray
        _WORKER.clear()
        ev = _WORKER[token] = Evaluator(ray.get(exp_ref[0]))
    return ev.run_chunk(tasks)


class RayBackend:
    """Chunks as Ray tasks on a cluster (``address``) or a local Ray instance (default)."""

    def __init__(self, exp: Experiment, workers: int | None, address: str | None) -> None:
        try:
            import ray
        except ImportError:
            raise AccelsimError("the ray backend needs Ray: pip install 'accelsim[ray]'") from None
        self.ray, self.exp, self.address = ray, exp, address
        self.workers = workers or 0
        self._owns = False

    def __enter__(self) -> "RayBackend":
        ray = self.ray
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kw["address"] = self.address
            else:
                kw["num_cpus"] = self.workers or os.cpu_count() or 1
            ray.init(**kw)
            self._owns = True
        if not self.workers:
            self.workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.token = uuid.uuid4().hex
        self.ref = ray.put(self.exp)
        self.remote = ray.remote(num_cpus=1, max_retries=2)(_ray_chunk)
        return self

    def __exit__(self, exc_type: Any, *exc: Any) -> None:
        if self._owns:
            self.ray.shutdown()

    def map_chunks(self, chunks: Iterable[list[Task]]) -> Iterator[Rows]:
        ray = self.ray
        it = iter(chunks)
        pending: list[Any] = []
        limit = 4 * self.workers
        try:
            while True:
                while len(pending) < limit:
                    chunk = next(it, None)
                    if chunk is None:
                        break
                    pending.append(self.remote.remote(self.token, [self.ref], chunk))
                if not pending:
                    return
                done, pending = ray.wait(pending, num_returns=1)
                yield ray.get(done[0])
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise


def make_backend(exp: Experiment, backend: str, workers: int | None,
                 address: str | None = None) -> Any:
    """The backend named ``backend`` ('local' or 'ray') with ``workers`` workers."""
    if backend == "ray":
        return RayBackend(exp, workers, address)
    if backend != "local":
        raise AccelsimError(f"unknown backend {backend!r}; choose 'local' or 'ray'")
    if address:
        raise AccelsimError("--address is for --backend ray")
    n = workers or os.cpu_count() or 1
    return SerialBackend(exp) if n == 1 else LocalBackend(exp, n)
