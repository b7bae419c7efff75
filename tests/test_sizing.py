"""Iso-area sizing: accelsim.dse.sizing, `accelsim size` and experiments' `archs.<name>.size`."""
from __future__ import annotations

import json

import pytest

from accelsim.cli import main
from accelsim.config import load_document
from accelsim.dse import load_experiment, load_results, run_sweep
from accelsim.dse.sizing import area_mm2, size_to_area
from accelsim.errors import AccelsimError, ConfigError

from dse_util import ARCH, ROOT, line_of, write_exp


@pytest.fixture(scope="module")
def doc():
    return load_document(ARCH)


@pytest.mark.parametrize("budget", [12.0, 37.5, 400.0])
def test_one_knob_gives_the_largest_value_within_the_budget(doc, budget):
    r = size_to_area(doc, budget, ["units.sa.rows"])
    rows = r.values["units.sa.rows"]
    assert r.area_mm2 == area_mm2(doc, {"units.sa.rows": rows}) <= budget
    assert area_mm2(doc, {"units.sa.rows": rows + 1}) > budget   # one more row is over
    assert r.evaluations < 80


def test_several_knobs_scale_together_keeping_their_ratio(doc):
    r = size_to_area(doc, 100.0, ["units.sa.rows", "units.sa.cols"],
                     start={"units.sa.rows": 64, "units.sa.cols": 256})
    rows, cols = r.values["units.sa.rows"], r.values["units.sa.cols"]
    assert abs(cols / rows - 4) < 0.05 and r.area_mm2 <= 100.0
    s = r.scale * 1.01  # 1% more scale is over the budget
    bigger = {"units.sa.rows": int(64 * s), "units.sa.cols": int(256 * s)}
    assert area_mm2(doc, bigger) > 100.0


def test_sizing_errors_are_clear(doc):
    with pytest.raises(AccelsimError, match=r"even the smallest design \(units.sa.rows=1\) is "
                                            r"[\d.]+ mm², over the budget of 1 mm²"):
        size_to_area(doc, 1.0, ["units.sa.rows"])
    with pytest.raises(AccelsimError, match="must be a positive integer setting.*'ws'"):
        size_to_area(doc, 50.0, ["units.sa.dataflow"])
    with pytest.raises(AccelsimError, match="'units.sa.nope' is not a key"):
        size_to_area(doc, 50.0, ["units.sa.nope"])
    with pytest.raises(AccelsimError, match="budget must be a positive number"):
        size_to_area(doc, -3, ["units.sa.rows"])
    gpu = load_document(ROOT / "configs" / "gpu" / "h200.yaml")
    with pytest.raises(AccelsimError, match="does not change with units.gpu.sms"):
        size_to_area(gpu, 1000.0, ["units.gpu.sms"])


def test_size_command_prints_and_writes_json(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["size", str(ARCH), "--area-mm2", "50", "--knob", "units.sa.rows",
                 "--knob", "units.sa.cols", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "units.sa.rows" in text and "area evaluations" in text
    d = json.loads(out.read_text())
    assert d["area_mm2"] <= 50 and d["values"]["units.sa.rows"] == d["values"]["units.sa.cols"]
    assert main(["size", str(ARCH), "--area-mm2", "1", "--knob", "units.sa.rows"]) == 2
    assert "over the budget" in capsys.readouterr().err


def test_experiment_sizes_every_point_to_its_budget(tmp_path):
    path = write_exp(tmp_path, """\
zip:
  - {units.sa.rows: [32, 128], units.sa.cols: [128, 32]}
""", head=f"""\
name: iso
archs:
  sa:
    path: {ARCH}
    size: {{area_mm2: [20, 60], knobs: [units.sa.rows, units.sa.cols]}}
workloads:
  w: {{trace: tiny.yaml}}
""")
    exp = load_experiment(path)
    assert exp.space.size == 4 and exp.param_types["units.sa.rows"] == "int"
    run_sweep(exp, tmp_path / "store", workers=1)
    df = load_results(tmp_path / "store")
    assert sorted(df["size.area_mm2"]) == [20, 20, 60, 60]
    assert (df["area_mm2"] <= df["size.area_mm2"]).all()
    assert (df["area_mm2"] > 0.97 * df["size.area_mm2"]).all()
    tall = df[df["units.sa.rows"] > df["units.sa.cols"]]
    assert len(tall) == 2   # the shape of each zip row is kept


@pytest.mark.parametrize("size, needle, message", [
    ("{area_mm2: 0.5, knobs: [units.sa.rows]}", "size:", "over the budget of 0.5 mm²"),
    ("{area_mm2: 50, knobs: [units.sa.rows, units.sa.rows]}", "knobs", "appears twice"),
    ("{area_mm2: 50, knobs: []}", "knobs", "at least 1 item"),
])
def test_bad_size_blocks_are_located(tmp_path, size, needle, message):
    path = write_exp(tmp_path, "", head=f"""\
name: iso
archs:
  sa:
    path: {ARCH}
    size: {size}
workloads:
  w: {{trace: tiny.yaml}}
""")
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    text = str(info.value)
    assert f"{path}:{line_of(path, needle)} " in text and message in text, text


def test_compare_iso_area_puts_the_gpu_in_the_814_mm2_class():
    exp = load_experiment(ROOT / "experiments" / "compare_iso_area.yaml")
    areas = {}
    for i in range(exp.space.size):
        p = exp.point(i)
        if p.base == "gpu_h200":
            continue
        rows, cols = p.values["units.sa.rows"], p.values["units.sa.cols"]
        areas[(p.base, rows, cols)] = p.values["size.area_mm2"]
    assert set(areas.values()) == {25.0, 100.0, 814.0}
    doc = load_document(ARCH)
    for (base, rows, cols), budget in list(areas.items())[:6]:
        a = area_mm2(doc, {"units.sa.rows": rows, "units.sa.cols": cols})
        assert 0.97 * budget < a <= budget
