"""Experiment YAML: axes, zip, derived values, constraints, and located errors for bad input."""
from __future__ import annotations

import pytest

from accelsim.dse import load_experiment, run_sweep
from accelsim.dse.evaluate import resolve
from accelsim.dse.space import expand_axis
from accelsim.dse.strategies import planned_points
from accelsim.errors import ConfigError

from dse_util import ARCH, line_of, write_exp


def test_axis_forms_expand_inclusively_and_keep_ints(tmp_path):
    exp = load_experiment(write_exp(tmp_path, """\
axes:
  units.sa.rows: {range: [32, 128, 32]}
  units.sa.sram.ifmap_kb: {range: [0.5, 1.5, 0.5]}
  memory.dram.bandwidth_gb_s: {logrange: [128, 1024], factor: 2}
  units.vec.lanes: {logrange: [64, 256], num: 3}
"""))
    dims = {d.paths[0]: [v[0] for v in d.values] for d in exp.space.blocks[0].dims}
    assert dims["units.sa.rows"] == [32, 64, 96, 128]
    assert dims["units.sa.sram.ifmap_kb"] == [0.5, 1.0, 1.5]
    assert dims["memory.dram.bandwidth_gb_s"] == [128, 256, 512, 1024]
    assert dims["units.vec.lanes"] == [64, 128, 256]
    assert all(type(v) is int for v in dims["units.sa.rows"] + dims["units.vec.lanes"])
    assert exp.space.size == 4 * 3 * 4 * 3
    assert exp.param_types["units.sa.rows"] == "int"
    assert exp.param_types["units.sa.sram.ifmap_kb"] == "float"


def test_logrange_num_gives_floats_when_not_whole():
    from accelsim.dse.schema import LogRangeAxis
    vals = expand_axis(LogRangeAxis(logrange=(10, 1000), num=4))
    assert vals[0] == 10 and vals[-1] == 1000 and vals[1] == pytest.approx(46.4158883361)


def test_order_zip_derived_and_input_constraints(tmp_path):
    exp = load_experiment(write_exp(tmp_path, """\
axes:
  units.sa.rows: [64, 128]
  memory.dram.bandwidth_gb_s: [256, 512, 1024]
zip:
  - {units.vec.lanes: [64, 128], units.vec.buffer_kb: [128, 256]}
derived:
  units.sa.cols: units.sa.rows * 2
constraints:
  - units.sa.rows * units.sa.cols <= 16384
  - memory.dram.bandwidth_gb_s >= 512 or units.vec.lanes == 64
"""))
    assert exp.space.size == 2 * 3 * 2
    p0 = exp.point(0)
    assert p0.values == {"units.sa.rows": 64, "memory.dram.bandwidth_gb_s": 256,
                         "units.vec.lanes": 64, "units.vec.buffer_kb": 128, "units.sa.cols": 128}
    _, raw1 = exp.space.raw_point(1)  # the zip group varies fastest
    assert raw1["units.vec.lanes"] == 128 and raw1["memory.dram.bandwidth_gb_s"] == 256
    pts = planned_points(exp)
    # rows=128 gives 128*256 > 16384: excluded; (256 GB/s, 128 lanes) excluded
    assert [p.values["units.sa.rows"] for p in pts] == [64] * 5
    assert exp.point(1) is None
    from accelsim.dse.evaluate import point_arch
    arch = point_arch(exp, exp.bases["sa"], pts[0].values)
    assert arch.unit_configs["sa"].cols == 128 and arch.unit_configs["vec"].buffer_kb == 128


def test_per_arch_axes_and_families(tmp_path):
    exp = load_experiment(write_exp(tmp_path, f"""\
  os:
    path: {ARCH}
    family: systolic-os
    axes: {{units.sa.dataflow: [os]}}
axes:
  units.sa.rows: [64, 128]
""", head=f"name: t\nworkloads: {{w: tiny.yaml}}\narchs:\n  ws: {ARCH}\n"))
    assert [b.base for b in exp.space.blocks] == ["ws", "os"]
    assert exp.bases["ws"].family == "ws" and exp.bases["os"].family == "systolic-os"
    assert exp.space.size == 4
    assert exp.point(3).values == {"units.sa.rows": 128, "units.sa.dataflow": "os"}
    assert exp.param_types["units.sa.dataflow"] == "str"


def test_point_keys_hash_the_resolved_config(tmp_path):
    exp = load_experiment(write_exp(tmp_path, "axes:\n  units.sa.rows: [64, 128]\n"))
    a, b = (resolve(exp, p) for p in planned_points(exp))
    assert a.key != b.key and len(a.key) == 20
    # the same design written another way (explicit default) has the same key
    exp2 = load_experiment(write_exp(tmp_path, "axes:\n  units.sa.rows: [64]\n"
                                     "  units.sa.fold_overlap: [true]\n", name="e2.yaml"))
    assert resolve(exp2, planned_points(exp2)[0]).key == a.key


BAD = [
    ("axes:\n  units.sa.rowz: [32, 64]\n", "units.sa.rowz", "axes.units.sa.rowz",
     "unknown key 'rowz'; did you mean 'rows'?"),
    ("axes:\n  units.sa.rows: [32, -4, 64]\n", "units.sa.rows", "axes.units.sa.rows",
     "value -4 (item 2 of 3) is rejected: Input should be greater than 0, got -4"),
    ("axes:\n  units.sa.dataflow: [ws, xs]\n", "units.sa.dataflow", "axes.units.sa.dataflow",
     "value 'xs' (item 2 of 2) is rejected: Input should be 'os', 'ws' or 'is'"),
    ("axes:\n  units.sb.rows: [32]\n", "units.sb", "axes.units.sb.rows",
     "has no unit 'sb'; units: sa, vec"),
    ("axes:\n  units.sa.rows: [32, 64]\nconstraints:\n  - latency_s <= 0.001\n"
     "  - 0.002 < latency_s\n", "0.002 < latency_s", "constraints.1",
     "'0.002 < latency_s' contradicts constraints.0 ('latency_s <= 0.001'): no value of "
     "latency_s satisfies both"),
    ("axes:\n  units.sa.rows: [32, 64]\nconstraints:\n  - units.sa.rows >= 64 and "
     "units.sa.rows < 64\n", "units.sa.rows >= 64", "constraints.0", "no value of units.sa.rows"),
    ("zip:\n  - {units.sa.rows: [32, 64], units.sa.cols: [32]}\n", "units.sa.cols: [32]",
     "zip.0.units.sa.cols",
     "has 1 values but units.sa.rows has 2"),
    ("axes:\n  units.sa.rows: [32, 64, 32]\n", "units.sa.rows", "axes.units.sa.rows",
     "value 32 appears twice"),
    ("axes:\n  units.sa.rows: [32]\nderived:\n  units.sa.rows: units.sa.cols\n",
     "units.sa.rows: units", "derived.units.sa.rows", "already set by axes.units.sa.rows"),
    ("axes:\n  workload.batch: [1, 2]\n", "workload.batch", "axes.workload.batch",
     "workload axes need model-zoo workloads, but 'w' is a trace file"),
    ("axes:\n  workload.bacth: [1, 2]\n", "workload.bacth", "axes.workload.bacth",
     "unknown workload field 'bacth'; did you mean 'batch'?"),
    ("derived:\n  units.sa.cols: units.sa.rows[0]\n", "units.sa.cols", "derived.units.sa.cols",
     "Subscript is not allowed"),
    ("derived:\n  units.sa.cols: __import__('os')\n", "units.sa.cols", "derived.units.sa.cols",
     "only these functions may be called"),
    ("derived:\n  units.sa.cols: units.sa.rowz * 2\n", "units.sa.cols", "derived.units.sa.cols",
     "'units.sa.rowz' is neither a parameter nor a key of base 'sa'; did you mean "
     "'units.sa.rows'?"),
    ("objectives: {latency_s: min}\nstrategy: {kind: optuna}\n", "kind: optuna",
     "strategy.budget", "missing required key 'budget'"),
    ("strategy: {kind: optuna, budget: 10}\n", "kind: optuna", "strategy",
     "needs at least one objective"),
    ("strategy: {kind: randm}\n", "randm", "strategy.kind", "did you mean 'random'?"),
    ("axis:\n  units.sa.rows: [32]\n", "axis:", "axis", "unknown key 'axis'; did you mean 'axes'?"),
    ("axes:\n  units.sa.rows: 64\n", "units.sa.rows", "axes.units.sa.rows",
     "an axis is a list of values"),
    ("axes:\n  memory.dram.bandwidth_gb_s: {logrange: [64, 32], factor: 2}\n", "logrange",
     "axes.memory.dram.bandwidth_gb_s.logrange", "needs 0 < start <= stop"),
    ("axes:\n  key: [1]\n", "key:", "axes.key", "reserved column name"),
    ("objectives: {latency_s: minimum}\n", "minimum", "objectives.latency_s",
     "Input should be 'min' or 'max'"),
]


@pytest.mark.parametrize("body, needle, key, message", BAD, ids=[b[2] + ":" + b[3][:20] for b in BAD])
def test_bad_input_is_one_located_error(tmp_path, body, needle, key, message):
    path = write_exp(tmp_path, body)
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    text = str(info.value)
    assert f"{path}:{line_of(path, needle)} {key}: " in text, text
    assert message in text, text


def test_yaml_syntax_error_is_located(tmp_path):
    path = write_exp(tmp_path, "axes:\n  units.sa.rows: [32, 64\n")
    with pytest.raises(ConfigError, match=rf"{path}:\d+: YAML syntax error"):
        load_experiment(path)


def test_missing_trace_is_located(tmp_path):
    path = write_exp(tmp_path, "", head=f"name: t\narchs: {{sa: {ARCH}}}\n"
                     "workloads:\n  w: {trace: missing.yaml}\n")
    with pytest.raises(ConfigError, match=rf"{path}:4 workloads.w.trace: trace file not found"):
        load_experiment(path)


def test_missing_arch_file_is_located(tmp_path):
    path = write_exp(tmp_path, "", head="name: t\nworkloads: {w: tiny.yaml}\narchs:\n"
                     "  sa: {path: nowhere.yaml}\n")
    with pytest.raises(ConfigError, match=rf"{path}:4 archs.sa.path: architecture file not "
                                          rf"found: {tmp_path}/nowhere.yaml"):
        load_experiment(path)


def test_arch_constraint_on_metric_is_rejected(tmp_path):
    path = write_exp(tmp_path, "", head=f"name: t\nworkloads: {{w: tiny.yaml}}\narchs:\n"
                     f"  sa:\n    path: {ARCH}\n    constraints: ['latency_s < 1']\n")
    with pytest.raises(ConfigError, match="archs.sa.constraints.0: a constraint under an arch"):
        load_experiment(path)


def test_unknown_metric_fails_before_any_point_is_stored(tmp_path):
    path = write_exp(tmp_path, "axes:\n  units.sa.rows: [64, 128]\n"
                     "objectives: {latency_s: min, energy_per_tokn: min}\n")
    store = tmp_path / "store"
    with pytest.raises(ConfigError) as info:
        run_sweep(path, store, workers=1)
    assert f"{path}:{line_of(path, 'energy_per_tokn')} objectives.energy_per_tokn: unknown " \
           f"metric 'energy_per_tokn'" in str(info.value)
    assert not store.exists()


def test_unknown_metric_in_constraint_and_derived_metric(tmp_path):
    path = write_exp(tmp_path, "constraints: ['utilisation > 0.1']\n")
    with pytest.raises(ConfigError, match="constraints.0: unknown metric 'utilisation'; "
                                          "did you mean 'utilization'?"):
        run_sweep(path, tmp_path / "s", workers=1)
    path = write_exp(tmp_path, "derived_metrics: {edp: latency_s * energy}\n", name="e2.yaml")
    with pytest.raises(ConfigError, match="derived_metrics.edp: unknown metric 'energy'"):
        run_sweep(path, tmp_path / "s2", workers=1)


def test_declared_metrics_skip_the_probe_check(tmp_path):
    path = write_exp(tmp_path, "metrics: [area_mm2]\nconstraints: ['area_mm2 < 100']\n")
    exp = load_experiment(path)
    exp.check_metrics({"latency_s"})  # area_mm2 declared: accepted without results


def test_constraints_that_exclude_everything(tmp_path):
    path = write_exp(tmp_path, "axes:\n  units.sa.rows: [32, 64]\n"
                     "constraints: ['units.sa.rows > 100']\n")
    with pytest.raises(ConfigError, match=r"constraints.0: the constraints exclude every one of "
                                          r"the 2 points"):
        run_sweep(path, tmp_path / "s", workers=1)
    assert not (tmp_path / "s").exists()


def test_overrides_and_extends_work_for_experiments(tmp_path):
    base = write_exp(tmp_path, "axes:\n  units.sa.rows: [32, 64]\nstrategy: {kind: random, "
                     "samples: 1}\n")
    child = tmp_path / "child.yaml"
    child.write_text(f"extends: {base.name}\nname: child\n")
    exp = load_experiment(child, ["strategy.seed=7"])
    assert exp.name == "child" and exp.spec.strategy.seed == 7
    assert exp.space.size == 2


@pytest.mark.parametrize("name", ["example_small", "llama2_7b_decode_10k", "pareto_families",
                                  "compare_iso_area"])
def test_shipped_experiments_load_and_plan(name):
    from dse_util import ROOT
    exp = load_experiment(ROOT / "experiments" / f"{name}.yaml")
    pts = planned_points(exp)
    assert pts and len({resolve(exp, p).key for p in pts[:50]}) == min(50, len(pts))
    if name == "llama2_7b_decode_10k":
        assert exp.space.size == len(pts) == 10_000
