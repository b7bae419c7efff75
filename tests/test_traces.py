"""Trace files: YAML/JSON round trips, GEMM CSVs (SCALE-Sim format), located errors."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.errors import ConfigError
from accelsim.workload import Gemm, Vector, load_trace, save_trace

from conftest import ROOT


@pytest.mark.parametrize("ext", ["yaml", "json"])
def test_round_trip(tmp_path, ext):
    tr = load_trace(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
    save_trace(tr, tmp_path / f"t.{ext}")
    back = load_trace(tmp_path / f"t.{ext}")
    assert back == tr
    assert back.num_ops() == 32 * 12 + 2
    assert back.segments[0].repeat == 32


def test_scalesim_topology_csv_with_header_and_trailing_commas(tmp_path):
    p = tmp_path / "topo.csv"
    p.write_text("Layer, M, N, K,\nfc1, 16, 128, 64,\nfc2, 16, 64, 128,\n")
    tr = load_trace(p)
    assert [op.name for op in tr.segments[0].ops] == ["fc1", "fc2"]
    assert tr.segments[0].ops[0] == Gemm("fc1", m=16, n=128, k=64, dtype="int8")


def test_csv_errors_name_the_line(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,M,N,K\na,1,2,3\nb,4,x,6\n")
    with pytest.raises(ConfigError) as e:
        load_trace(p)
    assert str(e.value).startswith(f"{p}:3")
    p.write_text("a,1,0,3\n")
    with pytest.raises(ConfigError, match=r":1: op 'a': n must be a positive integer, got 0"):
        load_trace(p)


def test_flops_and_bytes():
    g = Gemm("g", m=4, n=6, k=8, dtype="bf16", w_dtype="int4")
    assert g.flops() == 2 * 4 * 6 * 8
    assert g.operand_bytes() == {"A": 4 * 8 * 2, "B": 8 * 6 * 0.5, "C": 4 * 6 * 2}
    v = Vector("v", op="add", rows=3, cols=5, dtype="fp16")
    assert v.operand_bytes() == {"in0": 30, "in1": 30, "out": 30}


@pytest.mark.parametrize("text, where, msg", [
    ("ops:\n  - {name: a, kind: gemm, m: 4, n: 4, k: 4}\n  - {name: b, kind: gemn, m: 1}\n",
     ":3 ops.1.kind", "unknown op kind 'gemn'; did you mean 'gemm'?"),
    ("ops:\n  - name: a\n    kind: gemm\n    m: 4\n    nn: 4\n",
     ":5 ops.0.nn", "unknown key 'nn' for a gemm op; did you mean 'n'?"),
    ("ops:\n  - name: a\n    kind: gemm\n    m: -4\n",
     ":4 ops.0.m", "m must be a positive integer, got -4"),
    ("ops:\n  - {name: a, kind: gemm}\n  - {name: b, kind: gemm, deps: [c]}\n",
     ":3 ops.1.deps", "depends on 'c', which is not an earlier op"),
    ("segments:\n  - name: l\n    repeat: 0\n    ops: [{name: a, kind: gemm}]\n",
     ":2 segments.0", "repeat must be a positive integer"),
    ("ops:\n  - {name: a, kind: gemm, w_dtype: bf61}\n", ":2 ops.0.w_dtype", "unknown dtype 'bf61'"),
])
def test_trace_errors_are_located(tmp_path, text, where, msg):
    p = tmp_path / "t.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_trace(p)
    s = str(e.value)
    assert s.startswith(f"{p}{where}:"), s
    assert msg in s


def test_missing_trace_file():
    with pytest.raises(ConfigError, match="nope.yaml: file not found"):
        load_trace("nope.yaml")
