"""A workload trace: segments of ops; each segment is a DAG, run ``repeat`` times in order.

Segment boundaries are barriers (a decoder layer depends on the previous layer's output), so
the engine simulates each distinct segment once and replicates its timeline ``repeat`` times:
32 identical layers cost about as much to simulate as one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from ..config.bounds import MAX_OP_RUNS, MAX_REPEAT
from ..errors import AccelsimError
from .ops import Op


@dataclass(frozen=True)
class Segment:
    """A DAG of ops that runs ``repeat`` times back to back (e.g. one decoder layer)."""

    name: str
    ops: tuple[Op, ...]
    repeat: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.repeat, int) or isinstance(self.repeat, bool) or self.repeat < 1:
            raise AccelsimError(f"segment {self.name!r}: repeat must be a positive integer, "
                                f"got {self.repeat!r}")
        if self.repeat > MAX_REPEAT:
            raise AccelsimError(f"segment {self.name!r}: repeat must be at most {MAX_REPEAT:,}, "
                                f"got {self.repeat:,}")
        seen: set[str] = set()
        for op in self.ops:
            if op.name in seen:
                raise AccelsimError(f"segment {self.name!r}: duplicate op name {op.name!r}")
            for d in op.deps or ():
                if d not in seen:
                    raise AccelsimError(
                        f"segment {self.name!r}: op {op.name!r} depends on {d!r}, which is not "
                        f"an earlier op of the segment")
            seen.add(op.name)

    def resolved_deps(self) -> dict[str, tuple[str, ...]]:
        """Explicit dependencies: an op without ``deps`` depends on the op before it."""
        out: dict[str, tuple[str, ...]] = {}
        prev: str | None = None
        for op in self.ops:
            out[op.name] = op.deps if op.deps is not None else ((prev,) if prev else ())
            prev = op.name
        return out

    def lowered(self, lower: Callable[[Op], Sequence[Op]] | None = None) -> "Segment":
        """Expand ops into the parts ``lower`` gives (default: each op's own ``lower()``),
        rewiring dependencies onto them: the first part takes the op's dependencies, a part
        without ``deps`` depends on the part before it, and dependents of the op depend on its
        last part."""
        deps = self.resolved_deps()
        last_of: dict[str, str] = {}
        out: list[Op] = []
        for op in self.ops:
            parts = list(lower(op) if lower is not None else op.lower())
            if not parts:
                raise AccelsimError(f"segment {self.name!r}: op {op.name!r} lowered to nothing")
            mapped = tuple(last_of.get(d, d) for d in deps[op.name])
            for i, p in enumerate(parts):
                if i == 0:
                    p = _with_deps(p, mapped)
                elif p.deps is None:
                    p = _with_deps(p, (parts[i - 1].name,))
                out.append(p)
            last_of[op.name] = parts[-1].name
        return Segment(self.name, tuple(out), self.repeat)


def _with_deps(op: Op, deps: tuple[str, ...]) -> Op:
    """``op`` with other dependencies: a shallow copy with ``deps`` set, equal to
    ``dataclasses.replace(op, deps=deps)`` but without re-running the op's checks, which do not
    look at ``deps`` (lowering a 10^5-op trace: 3.0 s -> 2.0 s on a loaded 2-core VM)."""
    if not hasattr(op, "__dict__"):  # a slotted op class: the checked way
        from dataclasses import replace
        return replace(op, deps=deps)
    new = object.__new__(type(op))
    new.__dict__.update(op.__dict__)
    new.__dict__["deps"] = deps
    return new


@dataclass(frozen=True)
class Trace:
    """A whole workload: named segments run in order."""

    name: str
    segments: tuple[Segment, ...]
    meta: tuple[tuple[str, str], ...] = field(default=())

    @classmethod
    def from_ops(cls, name: str, ops: list[Op], repeat: int = 1) -> "Trace":
        return cls(name, (Segment(name, tuple(ops), repeat),))

    def lowered(self) -> "Trace":
        return Trace(self.name, tuple(s.lowered() for s in self.segments), self.meta)

    def iter_ops(self) -> Iterator[tuple[Segment, Op]]:
        """Every op once per segment (not per repeat)."""
        for s in self.segments:
            for op in s.ops:
                yield s, op

    def num_ops(self) -> int:
        return sum(len(s.ops) * s.repeat for s in self.segments)

    def check_size(self) -> None:
        """AccelsimError when a simulation of this trace would keep more than ``MAX_OP_RUNS``
        per-op rows (segment repeat x ops, summed; ``accelsim.config.bounds``)."""
        n = self.num_ops()
        if n > MAX_OP_RUNS:
            raise AccelsimError(f"workload {self.name!r} runs {n:,} ops (segment repeat x ops), "
                                f"more than the {MAX_OP_RUNS:,} accelsim simulates at once "
                                f"(MAX_OP_RUNS); lower a segment's repeat or split the workload")

    def flops(self) -> float:
        return float(sum(op.flops() * s.repeat for s, op in self.iter_ops()))

    def total_bytes(self) -> float:
        return float(sum(op.total_bytes() * s.repeat for s, op in self.iter_ops()))

    def to_dict(self) -> dict:
        d: dict = {"name": self.name}
        if self.meta:
            d["meta"] = dict(self.meta)
        d["segments"] = [
            {"name": s.name, "repeat": s.repeat, "ops": [op.to_dict() for op in s.ops]}
            for s in self.segments
        ]
        return d
