"""Figures: labels with units, the frontier that is drawn, heat map values, errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import accelsim
from accelsim.dse import pareto_mask
from accelsim.errors import AccelsimError
from accelsim.report import plots

from dse_util import ARCH, LLAMA


@pytest.mark.parametrize("name, label", [
    ("latency_s", "Latency (s)"), ("area_mm2", "Area (mm²)"), ("energy_j", "Energy (J)"),
    ("tokens_per_s", "Throughput (tokens/s)"), ("energy_per_token_j", "Energy per token (J/token)"),
    ("memory.dram.bandwidth_gb_s", "DRAM bandwidth (GB/s)"),
    ("units.sa.sram.ifmap_kb", "sa SRAM ifmap (KiB)"), ("bytes.dram_read", "DRAM read (B)"),
    ("utilization", "Utilization (fraction of peak)"), ("workload.batch", "workload batch"), ("edp", "edp"),
])
def test_metric_labels_carry_units(name, label):
    assert plots.metric_label(name) == label


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"latency_s": rng.random(60), "area_mm2": rng.random(60) * 100,
                         "family": ["systolic", "lut-tc", "pim"] * 20,
                         "x": np.repeat([1, 2, 3, 4], 15), "y": np.tile([10, 20, 30], 20)})


def test_pareto_plot_highlights_exactly_the_front():
    df = _frame()
    fig = plots.plot_pareto(df, "area_mm2", "latency_s")
    ax = fig.axes[0]
    front_pts = sum(len(c.get_offsets()) for c in ax.collections if c.get_linewidths()[0] > 0)
    assert front_pts == pareto_mask(df[["area_mm2", "latency_s"]].to_numpy()).sum()
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["lut-tc", "pim", "systolic", "Pareto frontier"]
    assert ax.get_xlabel() == "Area (mm²)" and ax.get_ylabel() == "Latency (s)"


def test_family_colours_are_stable():
    assert plots.family_colors(["b", "a"]) == plots.family_colors(["a", "b", "a"])


def test_heatmap_cells_are_the_aggregate():
    df = _frame()
    fig = plots.plot_heatmap(df, "x", "y", "latency_s", agg="min")
    shown = fig.axes[0].images[0].get_array()
    expect = df.pivot_table(index="y", columns="x", values="latency_s", aggfunc="min")
    assert np.allclose(np.asarray(shown), expect.to_numpy())
    with pytest.raises(AccelsimError, match="agg must be"):
        plots.plot_heatmap(df, "x", "y", "latency_s", agg="sum")


def test_breakdown_and_roofline_from_a_simulation(tmp_path):
    arch = accelsim.load_arch(ARCH)
    res = accelsim.simulate(arch, accelsim.load_workload(LLAMA), "op")
    lat = plots.latency_breakdown(res, by="kind")
    assert lat.sum() == pytest.approx(res.per_op["cycles"].sum() / res.clock_hz)
    assert plots.save_figure(plots.plot_breakdown({"a": res, "b": res}), tmp_path / "b.svg")
    fig = plots.plot_roofline(res, arch)
    assert "sa roof (32.8 TFLOP/s)" in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    if "energy_j" in res.per_op.columns:  # the energy model is in this tree
        by_op = plots.energy_breakdown(res, by="op", top=100)
        assert by_op.sum() == pytest.approx(res.summary()["energy_dynamic_j"])
        comp = plots.energy_breakdown(res, by="component", top=100)
        assert comp.sum() == pytest.approx(res.summary()["energy_j"])
        assert plots.save_figure(plots.plot_breakdown({"a": res}, metric="energy",
                                                      by="component"), tmp_path / "e.png")
    with pytest.raises(AccelsimError, match="breakdown by must be"):
        plots.latency_breakdown(res, by="colour")
