"""Design-space exploration: experiment YAMLs, strategies, parallel runners, a Parquet store,
Pareto frontiers and hypervolume.

    from accelsim.dse import load_experiment, run_sweep, load_results, pareto_front
    report = run_sweep("experiments/example_small.yaml", "out/sweeps/example", workers=2)
    df = load_results("out/sweeps/example")            # one row per point, sorted by point
    front = pareto_front(df, {"latency_s": "min", "utilization": "max"})

See docs/dse.md.
"""
from .experiment import Experiment, load_experiment
from .pareto import default_reference, hypervolume, pareto_front, pareto_mask
from .replay import replay
from .runner import SweepReport, run_sweep
from .store import ResultStore, load_results

__all__ = ["Experiment", "ResultStore", "SweepReport", "default_reference", "hypervolume",
           "load_experiment", "load_results", "pareto_front", "pareto_mask", "replay",
           "run_sweep"]
