"""The experiment YAML schema (pydantic, unknown keys rejected).

Example::

    name: sa-size-vs-bandwidth
    archs:
      sa: {path: ../configs/sa128_bf16_hbm.yaml, family: systolic}
    workloads:
      decode: {trace: ../workloads/examples/llama2_7b_decode_b16.yaml}
    fidelity: op
    axes:
      units.sa.rows: [32, 64, 128, 256]                 # a list
      units.sa.sram.ifmap_kb: {range: [512, 4096, 512]}  # start, stop (inclusive), step
      memory.dram.bandwidth_gb_s: {logrange: [128, 4096], factor: 2}
    zip:                                                # varied together, not crossed
      - {units.sa.cols: [32, 64], units.vec.lanes: [64, 128]}
    derived: {units.sa.sram.filter_kb: units.sa.sram.ifmap_kb}
    constraints: ["units.sa.rows * units.sa.cols <= 65536", "latency_s <= 0.5"]
    derived_metrics: {edp: latency_s * latency_s}
    objectives: {latency_s: min, utilization: max}
    strategy: {kind: grid}            # or {kind: random, samples: 200, seed: 1}
                                      # or {kind: optuna, sampler: nsga2, budget: 300, seed: 0}

Paths of ``archs`` and trace workloads are relative to the experiment file.
"""
from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from ..config.bounds import MAX_BATCH, MAX_DIM, MAX_TOKENS, SaneModel
from ..engine import FIDELITIES

#: the most values one axis may have (a range, a logrange or a list)
MAX_AXIS_VALUES = 1_000_000
#: the most points a grid strategy may enumerate (the product of the axes, over all blocks)
MAX_GRID_POINTS = 10_000_000
#: the most points any space may have (random and optuna draw point indices as int64)
MAX_SPACE_POINTS = 2 ** 62


def _known_fidelity(v: str) -> str:
    if v not in FIDELITIES:  # the registry, not a closed list
        from ..engine.fidelities import FIDELITIES as REG
        raise ValueError(REG.unknown(v))
    return v


Fidelity = Annotated[str, AfterValidator(_known_fidelity)]


class _Model(SaneModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Tagged(BaseModel):
    """Members of a union discriminated by a key (no wrap validators: pydantic forbids them
    on the tag); their numbers are integers with bounds."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite_values(values: list[Any]) -> list[Any]:
    """A list axis holds no NaN or infinite number ('unlimited' is the infinite bandwidth)."""
    for i, v in enumerate(values):
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"value {i} is {v}: axis values must be finite numbers (use "
                             f"'unlimited' for an infinite bandwidth)")
    return values


class RangeAxis(_Model):
    """``{range: [start, stop, step]}``: start, start+step, ... up to stop inclusive."""

    range: tuple[float, float, float]

    @model_validator(mode="after")
    def _check(self) -> "RangeAxis":
        start, stop, step = self.range
        if not all(math.isfinite(v) for v in self.range):
            raise ValueError(f"range bounds and step must be finite numbers, got "
                             f"[{start:g}, {stop:g}, {step:g}]")
        if step <= 0:
            raise ValueError(f"range step must be > 0, got {step:g}")
        if stop < start:
            raise ValueError(f"range stop ({stop:g}) is below its start ({start:g})")
        if (stop - start) / step > MAX_AXIS_VALUES:
            raise ValueError(f"range has {math.floor((stop - start) / step) + 1:,} values, more "
                             f"than the {MAX_AXIS_VALUES:,} an axis may have")
        return self


class LogRangeAxis(_Model):
    """``{logrange: [start, stop], factor: 2}`` or ``{logrange: [start, stop], num: 8}``."""

    logrange: tuple[float, float]
    factor: float | None = Field(None, gt=1)
    num: int | None = Field(None, ge=2, le=1_000_000)  # MAX_AXIS_VALUES

    @model_validator(mode="after")
    def _check(self) -> "LogRangeAxis":
        start, stop = self.logrange
        if not all(math.isfinite(v) for v in (start, stop, self.factor or 2.0)):
            raise ValueError(f"logrange bounds and factor must be finite numbers, got "
                             f"[{start:g}, {stop:g}]" + (f", factor {self.factor:g}"
                                                        if self.factor is not None else ""))
        if not 0 < start <= stop:
            raise ValueError(f"logrange needs 0 < start <= stop, got [{start:g}, {stop:g}]")
        if (self.factor is None) == (self.num is None):
            raise ValueError("logrange needs exactly one of 'factor' (step ratio) or 'num' "
                             "(number of values)")
        if self.factor is not None:
            n = math.floor(math.log(stop / start) / math.log(self.factor) + 1e-9) + 1
            if n > MAX_AXIS_VALUES:
                raise ValueError(f"logrange has {n:,} values, more than the "
                                 f"{MAX_AXIS_VALUES:,} an axis may have")
        return self


def _axis_kind(v: Any) -> str | None:
    """Which axis form ``v`` is written in (pydantic discriminator)."""
    if isinstance(v, (list, RangeAxis, LogRangeAxis)):
        return "list" if isinstance(v, list) else "range" if isinstance(v, RangeAxis) else "logrange"
    if isinstance(v, dict):
        return "range" if "range" in v else "logrange" if "logrange" in v else None
    return None


AxisSpec = Annotated[
    Union[Annotated[list[Any], Field(min_length=1, max_length=MAX_AXIS_VALUES),
                    AfterValidator(_finite_values), Tag("list")],
          Annotated[RangeAxis, Tag("range")], Annotated[LogRangeAxis, Tag("logrange")]],
    Discriminator(_axis_kind, custom_error_type="axis_form",
                  custom_error_message="an axis is a list of values, {range: [start, stop, step]} "
                  "or {logrange: [start, stop], factor: F | num: N}")]


class TraceWorkload(_Model):
    """A workload read from a trace file (.yaml/.json/.csv)."""

    trace: str
    csv_dtype: str = "int8"
    tokens: int | None = Field(None, gt=0, le=MAX_DIM, description="tokens produced per run, "
                               "for tokens_per_s (default: from the trace's meta)")


class ZooWorkload(_Model):
    """A workload generated by the model zoo (``accelsim.workload.zoo.build_trace``).

    ``model`` is a zoo name or a Hugging Face ``config.json`` (relative to the experiment).
    """

    model: str
    phase: Literal["decode", "prefill"] = "decode"
    batch: int = Field(1, gt=0, le=MAX_BATCH)
    ctx: int = Field(2048, gt=0, le=MAX_TOKENS)
    prompt: int = Field(512, gt=0, le=MAX_TOKENS)
    weight_bits: int | float | str = 16
    act_dtype: str = "bf16"
    kv_bits: int | float | str = 16
    group_size: int | None = Field(None, gt=0, le=MAX_DIM)
    moe_dist: str | list[float] = "uniform"
    seed: int = 0
    head_dtype: str | None = None
    check_ctx: bool = True
    tokens: int | None = Field(None, gt=0, le=MAX_DIM, description="tokens per run (default: "
                               "batch for decode, batch * prompt for prefill)")


WorkloadSpec = Union[TraceWorkload, ZooWorkload]
ZOO_FIELDS = tuple(k for k in ZooWorkload.model_fields if k != "tokens")


class _Block(_Model):
    """Axes, zipped axes, derived values and input constraints (top level or per arch)."""

    axes: dict[str, AxisSpec] = {}
    zip: list[dict[str, AxisSpec]] = []
    derived: dict[str, str] = {}
    constraints: list[str] = []


class SizeSpec(_Model):
    """Iso-area by construction: at each point, ``knobs`` (integer settings, scaled together
    from the point's values) are set to the largest design within ``area_mm2`` (one budget, or
    a list: one point per budget, column ``size.area_mm2``); ``accelsim size`` is the same."""

    area_mm2: Annotated[float, Field(gt=0)] | list[Annotated[float, Field(gt=0)]]
    knobs: list[str] = Field(min_length=1)

    @property
    def budgets(self) -> list[float]:
        return list(self.area_mm2) if isinstance(self.area_mm2, list) else [self.area_mm2]


class ArchSpec(_Block):
    """One base architecture; ``family`` groups designs in plots (default: the arch's key)."""

    path: str
    family: str | None = None
    size: SizeSpec | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class GridStrategy(_Tagged):
    """Every point of the space, in order (first axis slowest)."""

    kind: Literal["grid"] = "grid"


class RandomStrategy(_Tagged):
    """``samples`` distinct points drawn uniformly from the space with a seeded RNG."""

    kind: Literal["random"]
    samples: int = Field(gt=0, le=MAX_GRID_POINTS)
    seed: int = 0


class OptunaStrategy(_Tagged):
    """A multi-objective optimiser (optuna NSGA-II or TPE) with a budget of points."""

    kind: Literal["optuna"]
    sampler: Literal["nsga2", "tpe"] = "nsga2"
    budget: int = Field(gt=0, le=MAX_GRID_POINTS)
    population: int = Field(16, ge=2, le=MAX_AXIS_VALUES, description="points asked per "
                            "generation (NSGA-II's population size); each generation runs in "
                            "parallel")
    seed: int = 0


Strategy = Annotated[Union[GridStrategy, RandomStrategy, OptunaStrategy],
                     Field(discriminator="kind")]


class FunnelSpec(_Model):
    """Screening funnel: every point at the ``screen`` fidelity first, then the experiment's
    fidelity only on points within ``slack`` (a fraction) of the screened Pareto frontier
    (``accelsim.dse.funnel``); each stored row says which fidelity produced it."""

    screen: Fidelity = "analytical"
    slack: float = Field(0.1, ge=0, le=1e6)


class ExperimentSpec(_Block):
    """Top level of an experiment YAML."""

    name: str
    description: str | None = None
    archs: dict[str, ArchSpec] = Field(min_length=1)
    workloads: dict[str, Union[TraceWorkload, ZooWorkload]] = Field(min_length=1)
    fidelity: Fidelity = "op"
    derived_metrics: dict[str, str] = {}
    metrics: list[str] = Field([], description="metric names to accept in objectives and "
                               "constraints without checking them against a first point")
    objectives: dict[str, Literal["min", "max"]] = {}
    strategy: Strategy = GridStrategy()
    funnel: FunnelSpec | None = None
    evaluator: Literal["auto", "batch", "point"] = Field(
        "auto", description="how points are evaluated (same rows every way): auto takes the "
        "vectorised systolic path where it is exact, else the batch evaluator; batch never "
        "vectorises; point evaluates every point on its own")

    @model_validator(mode="after")
    def _funnel(self) -> "ExperimentSpec":
        f = self.funnel
        if f is None:
            return self
        if not self.objectives:
            raise ValueError("funnel needs objectives (it screens by their Pareto frontier)")
        if f.screen == self.fidelity:
            raise ValueError(f"funnel.screen is the experiment's fidelity ({self.fidelity!r}): "
                             f"nothing to screen; pick a cheaper one (e.g. analytical)")
        if isinstance(self.strategy, OptunaStrategy):
            raise ValueError("funnel works with grid and random strategies, not optuna")
        return self

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("workloads"), dict):
            wl = {k: ({"trace": v} if isinstance(v, str) else v)
                  for k, v in data["workloads"].items()}
            data = {**data, "workloads": wl}
        if isinstance(data, dict) and isinstance(data.get("strategy"), str):
            data = {**data, "strategy": {"kind": data["strategy"]}}
        return data
