"""Stores keep whole numbers whole (issue 17): an integer axis or derived value is int64 in
Parquet, also where some rows have none (a base that does not sweep it), and reads back as
integers in `accelsim report` and `accelsim pareto`; no label reads ``nan``."""
from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from accelsim.cli import main
from accelsim.dse.commands import _params
from accelsim.dse.replay import describe, point_labels
from accelsim.dse.space import cell
from accelsim.dse.store import ResultStore

from conftest import ROOT

TRACE = """\
name: tiny
ops:
  - {name: up, kind: gemm, m: 4, n: 1024, k: 512, dtype: int8}
  - {name: act, kind: vector, op: silu, rows: 4, cols: 1024}
  - {name: down, kind: gemm, m: 4, n: 512, k: 1024, dtype: int8}
"""

EXP = f"""\
name: two-bases
archs:
  sa:
    path: {ROOT / "configs" / "sa128_bf16_hbm.yaml"}
    family: systolic
    axes:
      units.sa.rows: [32, 64]
    derived:
      units.sa.cols: units.sa.rows * 2
      units.sa.sram.ifmap_kb: units.sa.rows / 4
  tpu: {{path: {ROOT / "configs" / "tpu_v1.yaml"}, family: tpu}}
workloads:
  w: {{trace: tiny.yaml}}
axes:
  memory.dram.bandwidth_gb_s: [100, 200]
objectives: {{latency_s: min, area_mm2: min}}
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("types")
    (tmp / "tiny.yaml").write_text(TRACE)
    (tmp / "exp.yaml").write_text(EXP)
    assert main(["sweep", str(tmp / "exp.yaml"), "--store", str(tmp / "st"), "--workers", "1"]) == 0
    return tmp / "st"


def test_integer_axes_and_derived_values_are_int64_with_missing_rows(store):
    schema = pq.read_schema(next((store / "parts").glob("*.parquet")))
    assert str(schema.field("units.sa.rows").type) == "int64"
    assert str(schema.field("units.sa.cols").type) == "int64"     # derived, rows * 2
    assert str(schema.field("memory.dram.bandwidth_gb_s").type) == "int64"
    assert str(schema.field("units.sa.sram.ifmap_kb").type) == "double"  # rows / 4: a float
    st = ResultStore(store)
    assert st.manifest["param_types"]["units.sa.cols"] == "int"
    t = pq.read_table(next((store / "parts").glob("*.parquet")))
    cols = dict(zip(t.column("base").to_pylist(), t.column("units.sa.cols").to_pylist()))
    assert cols["tpu"] is None and isinstance(cols["sa"], int)


def test_report_and_pareto_read_integers_back(store, capsys):
    assert main(["report", str(store), "--all", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("base,memory.dram.bandwidth_gb_s,units.sa.rows,units.sa.cols")
    assert "nan" not in out.lower()
    assert any(line.startswith("sa,200,64,128,16.0,") for line in lines), out  # 16.0: rows / 4
    assert any(line.startswith("tpu,200,,,,") for line in lines), out
    assert main(["report", str(store), "--all"]) == 0
    md = capsys.readouterr().out
    assert "nan" not in md.lower() and "| 64 | 128 |" in md and "| – | – |" in md
    assert main(["pareto", str(store), "--json", "-"]) == 0
    front = json.loads(capsys.readouterr().out)["front"]
    for r in front:
        if r["base"] == "sa":
            assert type(r["units.sa.rows"]) is int and type(r["units.sa.cols"]) is int
        else:
            assert r["units.sa.rows"] is None and r["units.sa.cols"] is None
    assert main(["pareto", str(store)]) == 0
    assert "nan" not in capsys.readouterr().out.lower()


def test_no_nan_labels_for_a_parameter_a_base_does_not_sweep(store):
    st = ResultStore(store)
    df = st.load()
    params = _params(st, df)
    tpu = df[df["base"] == "tpu"].iloc[0]
    assert "nan" not in describe(tpu, params) and describe(tpu, params).startswith("tpu: ")
    labels = point_labels(df, params)
    assert labels and not any("nan" in lab for lab in labels)
    assert any("rows=64" in lab for lab in labels)


def test_a_whole_number_column_never_truncates():
    assert cell(64, "int") == 64 and cell(64.0, "int") == 64
    with pytest.raises(ValueError, match="not a whole number"):
        cell(2.5, "int")
