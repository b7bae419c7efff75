"""accelsim sweep | pareto | plot | report on a small store; errors without tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from accelsim.cli import main
from accelsim.dse import load_results, pareto_mask

from dse_util import ROOT, line_of, write_exp
from test_dse_runner import GRID


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    exp = write_exp(tmp, GRID + "constraints: ['latency_s < 1']\n")
    assert main(["sweep", str(exp), "--store", str(tmp / "s"), "--workers", "2",
                 "--no-progress"]) == 0
    return tmp / "s"


def test_sweep_prints_a_summary_and_json(tmp_path, capsys):
    exp = write_exp(tmp_path, GRID)
    assert main(["sweep", str(exp), "--store", str(tmp_path / "s"), "--workers", "1",
                 "--json", "-"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["evaluated"] == 12 and rep["points_per_s"] > 0 and not rep["interrupted"]
    assert main(["sweep", str(exp), "--store", str(tmp_path / "s"), "--resume"]) == 0
    assert "0 points run, 12 taken from the store" in capsys.readouterr().out


def test_sweep_default_store_and_dry_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exp = write_exp(tmp_path, GRID)
    assert main(["sweep", str(exp), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "12 points planned and validated" in out and "#0 sa/w:" in out
    assert not (tmp_path / "out").exists()
    assert main(["sweep", str(exp), "--workers", "1"]) == 0
    assert (tmp_path / "out" / "sweeps" / "exp" / "manifest.json").is_file()


def test_pareto_table_json_and_hypervolume(store, capsys):
    assert main(["pareto", str(store)]) == 0
    out = capsys.readouterr().out
    assert "Pareto frontier" in out and "hypervolume" in out
    assert main(["pareto", str(store), "--x", "latency_s", "--y", "max:tokens_per_s",
                 "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    df = load_results(store)
    mask = pareto_mask(df[["latency_s", "tokens_per_s"]].to_numpy(), ["min", "max"])
    assert sorted(r["key"] for r in d["front"]) == sorted(df[mask]["key"])
    assert d["objectives"] == {"latency_s": "min", "tokens_per_s": "max"} and d["hypervolume"] > 0


def test_pareto_where_filters_rows(store, capsys):
    assert main(["pareto", str(store), "--where", "units.sa.rows == 64", "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["points"] == 6 and all(r["units.sa.rows"] == 64 for r in d["front"])


@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_plot_pareto_formats_are_reproducible(store, tmp_path, fmt):
    a, b = tmp_path / f"a.{fmt}", tmp_path / f"b.{fmt}"
    for out in (a, b):
        assert main(["plot", str(store), "pareto", "--x", "latency_s", "--y", "utilization",
                     "-o", str(out)]) == 0
    assert a.stat().st_size > 1000 and a.read_bytes() == b.read_bytes()


@pytest.mark.parametrize("args", [
    ["heatmap", "--x", "units.sa.rows", "--y", "memory.dram.bandwidth_gb_s"],
    ["breakdown", "--best", "latency_s", "-n", "3", "--by", "kind"],
    ["roofline"],
    ["pareto", "--x", "latency_s", "--y", "utilization", "--z", "bytes.dram_read"],
])
def test_other_plots(store, tmp_path, args, capsys):
    out = tmp_path / "f.png"
    assert main(["plot", str(store), *args, "-o", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("fmt, needle", [
    ("markdown", "| sa rows | sa SRAM ifmap (KiB) |"),
    ("latex", r"\toprule"),
    ("csv", "units.sa.rows,units.sa.sram.ifmap_kb"),
])
def test_report_formats(store, fmt, needle, capsys):
    assert main(["report", str(store), "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert needle in out
    n_front = int(pareto_mask(load_results(store)[["latency_s", "utilization"]].to_numpy(),
                              ["min", "max"]).sum())
    lines = out.strip().splitlines()
    body = {"markdown": lines[2:], "csv": lines[1:],
            "latex": [l for l in lines if l.endswith(r"\\")][1:]}[fmt]
    assert len(body) == n_front


def test_report_all_sorted_top_to_file(store, tmp_path, capsys):
    out = tmp_path / "t.csv"
    assert main(["report", str(store), "--all", "--format", "csv", "--sort", "max:utilization",
                 "--top", "3", "--columns", "key,utilization", "--output", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[0] == "key,utilization" and len(lines) == 4
    vals = [float(l.split(",")[1]) for l in lines[1:]]
    assert vals == sorted(vals, reverse=True)
    assert vals[0] == pytest.approx(load_results(store)["utilization"].max())


@pytest.mark.parametrize("args, expect", [
    (["pareto", "{store}", "--x", "latency_z"], "no column 'latency_z'; did you mean 'latency_s'?"),
    (["report", "{store}", "--where", "units.sa.rowz > 1"], "--where: no column 'units.sa.rowz'"),
    (["plot", "{store}", "heatmap", "--x", "units.sa.rows"], "a heatmap needs --x and --y"),
    (["plot", "{store}", "pareto", "-o", "{tmp}/x.jpg", "--x", "latency_s", "--y", "cycles"],
     "unsupported figure format '.jpg'"),
    (["pareto", "{tmp}/nothing"], "not a result store"),
])
def test_cli_errors_are_one_line(store, tmp_path, capsys, args, expect):
    args = [a.format(store=store, tmp=tmp_path) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err


def test_bad_experiment_exits_2_without_traceback(tmp_path):
    exp = write_exp(tmp_path, "axes:\n  units.sa.rows: [32, 0]\n")
    proc = subprocess.run([sys.executable, "-m", "accelsim.cli", "sweep", str(exp), "--store",
                           str(tmp_path / "s")], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 2
    line = line_of(exp, "units.sa.rows")
    assert proc.stderr.startswith(f"error: {exp}:{line} axes.units.sa.rows: value 0 (item 2 of "
                                  f"2) is rejected: Input should be greater than 0")
    assert "Traceback" not in proc.stderr and not (tmp_path / "s").exists()
