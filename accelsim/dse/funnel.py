"""Screening funnel (experiment option ``funnel: {screen: analytical, slack: 0.1}``).

A sweep with a funnel evaluates every point at the cheap ``screen`` fidelity, then only the
points within ``slack`` of the screened Pareto frontier again at the experiment's own fidelity.
Both kinds of row share the point's key (a key always names the experiment's fidelity), so the
detailed row supersedes the screened one, resume skips what is stored, and the ``fidelity``
column says which fidelity produced each row. Resuming a funnel sweep re-selects from the stored
rows and evaluates only the promoted points still at the screen fidelity.

Within slack: frontier point f *slack-dominates* point p when f, worsened by the slack in every
objective (``f + slack |f|`` for a minimised objective, ``f - slack |f|`` for a maximised one),
still dominates p. The points no frontier point slack-dominates are promoted: with slack 0
exactly the frontier (ties included), with slack 0.1 every point that is at most 10 % worse
than some frontier design in at least one objective. Only feasible rows with every objective
finite take part.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .pareto import pareto_mask, to_min

#: frontier points compared at once (bounds the n x front x k scratch array)
_BLOCK = 1 << 20


def within_slack(values: np.ndarray, senses: Sequence[str], slack: float) -> np.ndarray:
    """Mask of the rows of ``values`` (n x k) that no frontier row slack-dominates (NaN rows:
    False)."""
    v = to_min(np.asarray(values, dtype=float), senses)
    n = v.shape[0]
    keep = np.zeros(n, dtype=bool)
    ok = np.flatnonzero(np.isfinite(v).all(axis=1))
    if not ok.size:
        return keep
    w = v[ok]
    front = w[pareto_mask(w)]
    worse = front + slack * np.abs(front)  # every objective minimised now
    dominated = np.zeros(w.shape[0], dtype=bool)
    step = max(1, _BLOCK // max(1, front.shape[0] * w.shape[1]))
    for i in range(0, w.shape[0], step):
        p = w[i:i + step, None, :]
        le = (worse[None, :, :] <= p).all(axis=2)
        lt = (worse[None, :, :] < p).any(axis=2)
        dominated[i:i + step] = (le & lt).any(axis=1)
    keep[ok] = ~dominated
    return keep


def promoted_keys(rows, objectives: dict[str, str], slack: float, keys: set[str]) -> set[str]:
    """Keys (among ``keys``) of the stored rows (a DataFrame of ok rows) within ``slack`` of
    their frontier, over the objectives; only feasible rows with all objectives present."""
    if rows is None or len(rows) == 0 or any(o not in rows.columns for o in objectives):
        return set()
    mine = rows[rows["key"].isin(keys) & rows["feasible"].astype(bool)]
    if mine.empty:
        return set()
    names = list(objectives)
    mask = within_slack(mine[names].to_numpy(dtype=float), [objectives[o] for o in names],
                        slack)
    return set(mine["key"].to_numpy()[mask])


def promoted_points(exp: Any, rs: Any) -> list:
    """The points whose stored (screened) rows are within the slack of their frontier, in
    point order: after a vectorised screen, only these are resolved for the second stage
    (the frontier of this subset is the whole one's, so ``promote`` keeps all of them)."""
    assert exp.spec.funnel is not None
    stored = rs.load(status="ok", columns=list(exp.objectives))
    keep = promoted_keys(stored, exp.objectives, exp.spec.funnel.slack, set(stored["key"]))
    idx = sorted(int(i) for i in stored.loc[stored["key"].isin(keep), "point"])
    return [p for p in (exp.point(i) for i in idx) if p is not None]


def promote(exp: Any, rs: Any, tasks: list, commit: Any, report: Any, backend: str,
            workers: int | None, address: str | None, chunk_size: int | None) -> None:
    """Funnel, second stage: the points within the slack of the screened frontier whose stored
    row is not yet at the experiment's fidelity, evaluated at it; their rows supersede the
    screened ones (same keys)."""
    from .backends import make_backend
    from .runner import FLUSH_POINTS, _chunk_len, _chunks
    funnel = exp.spec.funnel
    assert funnel is not None
    stored = rs.load(status="ok", columns=["fidelity", *exp.objectives])
    keep = promoted_keys(stored, exp.objectives, funnel.slack, {t.key for t in tasks})
    if not keep:
        return
    done = set(stored.loc[stored["fidelity"] == exp.spec.fidelity, "key"]) \
        if "fidelity" in stored.columns else set()
    again = sorted((t for t in tasks if t.key in keep and t.key not in done),
                   key=lambda t: t.index)
    if not again:
        return
    with make_backend(exp, backend, workers, address) as be:
        commit.every = min(FLUSH_POINTS, _chunk_len(len(again), be.workers, chunk_size))
        for rows in be.map_chunks(_chunks(again, be.workers, chunk_size)):
            commit.add(rows, supersede=True)
            report.promoted += len(rows)
