"""Sweep progress: counts, best-so-far per objective, and a rich progress bar with ETA."""
from __future__ import annotations

import math
import time
from typing import Any, Protocol

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeElapsedColumn, TimeRemainingColumn)


class Tracker:
    """Counts finished points and keeps the best feasible value of each objective."""

    def __init__(self, objectives: dict[str, str]) -> None:
        self.objectives = objectives
        self.ok = self.failed = self.infeasible = 0
        self.best: dict[str, float] = {}
        self.first_error: str | None = None

    def add(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            if r.get("status") != "ok":
                self.failed += 1
                self.first_error = self.first_error or r.get("error")
                continue
            self.ok += 1
            if not r.get("feasible"):
                self.infeasible += 1
                continue
            for name, sense in self.objectives.items():
                v = r.get(name)
                if not isinstance(v, (int, float)) or math.isnan(v):
                    continue
                cur = self.best.get(name)
                if cur is None or (v < cur if sense == "min" else v > cur):
                    self.best[name] = float(v)

    def best_text(self) -> str:
        """``best latency_s=1.23e-02 utilization=0.41 | 3 failed``."""
        parts = [f"{n}={v:.4g}" for n, v in self.best.items()]
        text = ("best " + " ".join(parts)) if parts else ""
        if self.failed:
            text += f" | {self.failed} failed"
        if self.infeasible:
            text += f" | {self.infeasible} infeasible"
        return text.strip(" |")


class ProgressSink(Protocol):
    """What the runner reports to: a start, finished rows, and an end."""

    def start(self, total: int, done: int, label: str) -> None: ...

    def update(self, n: int, tracker: Tracker) -> None: ...

    def stop(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, total: int, done: int, label: str) -> None:
        pass

    def update(self, n: int, tracker: Tracker) -> None:
        pass

    def stop(self) -> None:
        pass


class RichProgress:
    """A progress bar with points done, rate, elapsed, ETA and the best-so-far."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task: Any = None
        self._t0 = 0.0
        self._done0 = 0

    def start(self, total: int, done: int, label: str) -> None:
        self._t0, self._done0 = time.perf_counter(), done
        if not self.console.is_terminal:  # logs and pipes: no live bar
            return
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"),
            TimeRemainingColumn(), TextColumn("{task.fields[best]}"),
            console=self.console, transient=False, refresh_per_second=4)
        self.progress.start()
        self.task = self.progress.add_task(label, total=total, completed=done, rate="",
                                           best="")

    def update(self, n: int, tracker: Tracker) -> None:
        if self.progress is None:
            return
        self.progress.advance(self.task, n)
        done = self.progress.tasks[0].completed - self._done0
        dt = time.perf_counter() - self._t0
        rate = f"{done / dt:,.0f} pt/s" if dt > 0 else ""
        self.progress.update(self.task, rate=rate, best=tracker.best_text())

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
