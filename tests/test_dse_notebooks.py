"""The notebooks are committed without outputs and run top to bottom (nbclient)."""
from __future__ import annotations

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from accelsim.dse import load_results

from dse_util import ROOT

NOTEBOOKS = {
    "pareto_frontier.ipynb": ["pareto_families.pdf", "pareto_families_energy.pdf"],
    "compare_architectures.ipynb": ["iso_area_throughput.pdf", "iso_area_energy.pdf",
                                    "iso_area_latency_breakdown.pdf",
                                    "iso_area_energy_breakdown.pdf",
                                    "iso_area_energy_by_component.pdf", "iso_area_roofline.pdf",
                                    "iso_area_heatmap.pdf"],
    "lut_tensor_core.ipynb": ["lut_latency.pdf", "lut_energy.pdf", "lut_tops_per_mm2.pdf",
                              "lut_area_breakdown.pdf"],
    "mixed_precision_pe.ipynb": ["mixpe_latency.pdf", "mixpe_energy.pdf",
                                 "mixpe_time_split.pdf", "mixpe_pareto.pdf"],
    "pim_and_moe.ipynb": ["pim_moe_throughput.pdf", "pim_moe_energy.pdf", "pim_moe_opb.pdf"],
}
#: notebooks that simulate directly (no sweep store) and write their results table instead
TABLES = {"pim_and_moe.ipynb": "pim_and_moe.csv"}


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_is_stored_without_outputs(name):
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("name", sorted(NOTEBOOKS))
def test_notebook_runs_top_to_bottom(name, tmp_path, monkeypatch):
    monkeypatch.setenv("ACCELSIM_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.setenv("ACCELSIM_NOTEBOOK_WORKERS", "2")
    nb = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT / "notebooks")}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert sum("image/png" in o.get("data", {}) for o in outputs) >= len(NOTEBOOKS[name])
    for fig in NOTEBOOKS[name]:
        assert (tmp_path / fig).read_bytes()[:4] == b"%PDF"
    if name in TABLES:
        assert len(pd.read_csv(tmp_path / TABLES[name])) > 0
        return
    stores = [p.parent for p in tmp_path.glob("*/manifest.json")]
    assert stores and all(len(load_results(s)) > 0 for s in stores)
