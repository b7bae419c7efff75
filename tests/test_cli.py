"""The command line: happy paths, JSON contracts, and errors without tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accelsim.cli import main

from conftest import ROOT

SA32 = str(ROOT / "configs" / "scalesim" / "sa32_os.yaml")
LLAMA = str(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
HBM = str(ROOT / "configs" / "sa128_bf16_hbm.yaml")


def test_gemm_json_contract(capsys):
    assert main(["gemm", SA32, "--m", "1", "--n", "4096", "--k", "4096", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    for key in ("cycles", "compute_cycles", "stall_cycles", "utilization", "latency_s"):
        assert key in d
    assert d["cycles"] == 532223  # SCALE-Sim 3.0.0's measured number for this case


def test_gemm_override_and_fidelity(capsys):
    assert main(["gemm", SA32, "--m", "64", "--n", "64", "--k", "64", "-o", "units.sa.rows=64",
                 "--fidelity", "tile", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["cycles"] == 1 * 2 * (64 + 64 + 32 - 2) - 1


def test_run_writes_json_and_trace(tmp_path, capsys):
    out, trace = tmp_path / "r.json", tmp_path / "t.json"
    assert main(["run", HBM, LLAMA, "--json", str(out), "--trace", str(trace)]) == 0
    text = capsys.readouterr().out
    assert "qkv_proj" in text and "latency" in text
    d = json.loads(out.read_text())
    assert d["cycles"] > 0 and len(d["per_op"]) == 32 * 14 + 2
    assert json.loads(trace.read_text())["traceEvents"]


def test_run_csv_workload(capsys):
    assert main(["run", SA32, str(ROOT / "workloads" / "examples" / "gemm_topology.csv"),
                 "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["op"] for r in d["per_op"]] == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]


@pytest.mark.parametrize("args, expect", [
    (["gemm", SA32, "--m", "8", "--n", "8", "--k", "8", "-o", "units.sa.rows=-4"],
     "units.sa.rows: Input should be greater than 0"),
    (["gemm", SA32, "--m", "8", "--n", "8", "--k", "8", "-o", "units.sa.rowz=4"],
     "did you mean 'rows'?"),
    (["gemm", SA32, "--m", "8", "--n", "8", "--k", "8", "--dtype", "bf16"],
     "cannot run op 'gemm'"),
    (["run", "missing.yaml", LLAMA], "missing.yaml: file not found"),
])
def test_errors_are_one_message_no_traceback(args, expect, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expect in err
    assert "Traceback" not in err


def test_bad_config_file_names_file_line_and_key(tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("extends: " + SA32 + "\nunits:\n  sa:\n    rows: -4\n    colz: 3\n")
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{bad}:4 units.sa.rows: Input should be greater than 0" in proc.stderr
    assert f"{bad}:5 units.sa.colz: unknown key 'colz'; did you mean 'cols'?" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_units_lists_registered_types(capsys):
    assert main(["units"]) == 0
    out = capsys.readouterr().out
    assert "systolic_array" in out and "vector" in out


def test_all_problems_reported_together(tmp_path, capsys):
    bad = tmp_path / "x.yaml"
    bad.write_text("extends: " + SA32 + "\nunits:\n  sa: {dataflow: xs}\n  v: {type: vectr}\n"
                   "memory:\n  dram: {bandwidth_gb_s: 10, bandwidth_bytes_per_cycle: 3}\n")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3 units.sa.dataflow: Input should be 'os', 'ws' or 'is', got 'xs'" in err
    assert f"{bad}:4 units.v.type: unknown unit type 'vectr'; did you mean 'vector'?" in err
    assert f"{bad}:6 memory.dram: give exactly one of" in err
