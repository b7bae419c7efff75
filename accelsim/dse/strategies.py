"""Search strategies: which points to evaluate, in which order.

- ``grid``: every point of the space (first axis slowest).
- ``random``: ``samples`` distinct points, uniformly, from a seeded numpy Generator.
- ``optuna``: NSGA-II or TPE over the axes, asked one generation (``population`` points) at a
  time; a generation runs in parallel and is told back in trial order, so the optimiser sees the
  same history, and proposes the same points, whatever the worker count or backend.

Points excluded by input constraints are skipped by all three (the optimiser is told they
failed, and they do not count against its budget).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterator

import numpy as np

from ..errors import ConfigError
from .experiment import Experiment
from .schema import GridStrategy, OptunaStrategy, RandomStrategy
from .space import Point

_PERMUTE_LIMIT = 2_000_000


def grid_points(exp: Experiment) -> Iterator[Point]:
    """Every feasible point, in index order."""
    for i in range(exp.space.size):
        p = exp.point(i)
        if p is not None:
            yield p


def random_points(exp: Experiment, samples: int, seed: int) -> Iterator[Point]:
    """Up to ``samples`` distinct feasible points in a seeded random order."""
    total = exp.space.size
    rng = np.random.default_rng(seed)
    found = 0
    if total <= _PERMUTE_LIMIT:
        order: Iterator[int] = (int(i) for i in rng.permutation(total))
    else:
        order = _rejection(rng, total)
    for i in order:
        p = exp.point(i)
        if p is not None:
            yield p
            found += 1
            if found == samples:
                return


def _rejection(rng: np.random.Generator, total: int) -> Iterator[int]:
    seen: set[int] = set()
    while len(seen) < total:
        i = int(rng.integers(total))
        if i not in seen:
            seen.add(i)
            yield i


def planned_points(exp: Experiment) -> list[Point]:
    """The points of a grid or random strategy; ConfigError if constraints exclude them all."""
    s = exp.spec.strategy
    if isinstance(s, GridStrategy):
        pts = list(grid_points(exp))
    elif isinstance(s, RandomStrategy):
        pts = list(random_points(exp, s.samples, s.seed))
    else:
        raise TypeError("planned_points is for grid and random strategies")
    if not pts:
        raise _excluded_all(exp)
    return pts


def _excluded_all(exp: Experiment) -> ConfigError:
    keys = [c.key for b in exp.bases.values() for c in b.constraints]
    key = keys[0] if keys else ("axes",)
    return exp.fail(key, f"the constraints exclude every one of the {exp.space.size} points "
                    f"of the space")


def require_optuna(exp: "Experiment | None" = None):
    """The optuna module, imported only for the optuna strategy; a ConfigError (located at the
    experiment's ``strategy`` when given) saying how to install it when it is missing."""
    try:
        import optuna
    except ImportError:
        msg = ("the optuna strategy needs the optuna package, which is not installed: "
               "pip install 'accelsim[dse]' (or pip install optuna), or use strategy kind grid "
               "or random")
        if exp is not None:
            raise exp.fail(("strategy", "kind"), msg) from None
        raise ConfigError(msg) from None
    return optuna


class OptunaSearch:
    """Ask/tell wrapper around an optuna study over the experiment's space."""

    def __init__(self, exp: Experiment) -> None:
        optuna = require_optuna(exp)
        s = exp.spec.strategy
        assert isinstance(s, OptunaStrategy)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.exp, self.cfg, self.optuna = exp, s, optuna
        self.objectives = list(exp.objectives.items())
        cons = (lambda t: t.user_attrs["violations"]) if exp.metric_constraints else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if s.sampler == "nsga2":
                sampler = optuna.samplers.NSGAIISampler(population_size=s.population, seed=s.seed,
                                                        constraints_func=cons)
            else:
                sampler = optuna.samplers.TPESampler(seed=s.seed, constraints_func=cons,
                                                     n_startup_trials=s.population)
        self.study = optuna.create_study(
            directions=["minimize" if d == "min" else "maximize" for _, d in self.objectives],
            sampler=sampler)
        self.blocks = exp.space.blocks
        self.labels = [f"{b.base}/{b.workload}" for b in self.blocks]
        self.asked = 0  # points handed out (the budget counts these)
        self._check_any_feasible()

    def _check_any_feasible(self) -> None:
        limit = min(self.exp.space.size, 200_000)
        if not any(self.exp.point(i) is not None for i in range(limit)):
            raise _excluded_all(self.exp)

    @property
    def done(self) -> bool:
        return self.asked >= self.cfg.budget

    def ask(self) -> list[tuple[Any, Point]]:
        """The next generation: up to ``population`` (trial, point) pairs."""
        out: list[tuple[Any, Point]] = []
        want = min(self.cfg.population, self.cfg.budget - self.asked)
        misses = 0
        while len(out) < want:
            trial = self.study.ask()
            point = self._point(trial)
            if point is None:  # excluded by an input constraint: tell and ask again
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
                misses += 1
                if misses > 10_000:
                    raise _excluded_all(self.exp)
                continue
            out.append((trial, point))
        self.asked += len(out)
        return out

    def _point(self, trial: Any) -> Point | None:
        k = 0
        if len(self.blocks) > 1:
            k = trial.suggest_categorical("@block", list(range(len(self.blocks))))
        block = self.blocks[k]
        prefix = f"{self.labels[k]}:" if len(self.blocks) > 1 else ""
        index = 0
        for dim in block.dims:
            index = index * len(dim.values) + self._suggest(trial, prefix, dim)
        return self.exp.point(self.exp.space.offsets[k] + index)

    @staticmethod
    def _suggest(trial: Any, prefix: str, dim: Any) -> int:
        n = len(dim.values)
        name = prefix + "+".join(dim.paths)
        if n == 1:
            return 0
        col = [row[0] for row in dim.values]
        numeric = len(dim.paths) == 1 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in col)
        if numeric and (col == sorted(col) or col == sorted(col, reverse=True)):
            return int(trial.suggest_int(name, 0, n - 1))  # ordered: let the sampler see it
        return int(trial.suggest_categorical(name, list(range(n))))

    def tell(self, trial: Any, row: dict[str, Any]) -> None:
        """Report a point's stored row (objective values, or failure) to the optimiser."""
        values = [row.get(name) for name, _ in self.objectives]
        ok = row.get("status") == "ok" and all(
            isinstance(v, (int, float)) and math.isfinite(v) for v in values)
        if not ok:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            return
        if self.exp.metric_constraints:
            trial.set_user_attr("violations", violations(self.exp, row))
        self.study.tell(trial, [float(v) for v in values])


def violations(exp: Experiment, row: dict[str, Any]) -> list[float]:
    """Per metric constraint: <= 0 where it holds, the distance where it does not."""
    from .space import PointEnv
    base, wl = exp.bases[row["base"]], exp.workloads[row["workload"]]
    env = PointEnv({}, base.doc.data, wl.fields, _clean(row))
    return [c.expr.violation(env) for c in exp.metric_constraints]


def _clean(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if v is not None}


def strategy_label(exp: Experiment) -> str:
    """Short description of the strategy, for logs."""
    s = exp.spec.strategy
    if isinstance(s, RandomStrategy):
        return f"random ({s.samples} samples, seed {s.seed})"
    if isinstance(s, OptunaStrategy):
        return f"optuna {s.sampler} (budget {s.budget}, population {s.population}, seed {s.seed})"
    return "grid"
