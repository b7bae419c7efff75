"""CLI: ``accelsim techlib show`` and the energy/area tables of ``accelsim run``."""
from __future__ import annotations

import json

from accelsim.cli import main

from conftest import ROOT

TPU = str(ROOT / "configs" / "tpu_v1.yaml")
CSV = str(ROOT / "workloads" / "examples" / "gemm_topology.csv")


def test_techlib_show_prints_values_with_sources(capsys):
    assert main(["techlib", "show", "--node", "7"]) == 0
    out = capsys.readouterr().out
    for text in ("Technology library at 7 nm", "Horowitz", "Stillmaker", "CACTI", "bf16 MAC",
                 "hbm3", "integration_overhead"):
        assert text in out, text


def test_techlib_show_json(capsys):
    assert main(["techlib", "show", "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["node"][0]["node_nm"] == 28
    assert all(r["source"] for r in d["constants"])
    mac = next(r for r in d["derived"] if r["part"].startswith("int8 MAC"))
    assert mac["energy_pj"] > 0 and mac["area_um2"] > 0


def test_techlib_unsupported_node_is_a_clean_error(capsys):
    assert main(["techlib", "show", "--node", "12"]) == 2
    err = capsys.readouterr().err
    assert "supported nodes: 45, 40, 32, 28, 22, 20, 16, 14, 10, 7, 5 nm" in err
    assert "Traceback" not in err


def test_run_prints_energy_and_area_breakdowns(capsys):
    assert main(["run", TPU, CSV]) == 0
    out = capsys.readouterr().out
    for text in ("Energy and area (28 nm, DRAM ddr3)", "Energy by component", "mxu.pe_mac",
                 "Area by component", "mxu.ifmap_sram", "Costliest ops by dynamic energy"):
        assert text in out, text


def test_run_json_has_energy_and_area(capsys):
    assert main(["run", TPU, CSV, "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["energy_j"] > 0 and d["area_mm2"] > 0 and d["tops_per_w"] > 0
    assert d["energy"]["dram"] > 0 and d["area"]["mxu.pe_mac"] > 0
    assert all("energy_j" in r for r in d["per_op"])


def test_bad_dram_kind_from_the_command_line(capsys):
    assert main(["run", TPU, CSV, "-o", "memory.dram.kind=lpddr5"]) == 2
    err = capsys.readouterr().err
    assert "memory.dram.kind" in err and "unknown DRAM kind 'lpddr5'" in err
