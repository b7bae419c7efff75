"""The Ray backend on a local Ray instance gives exactly the local backend's results."""
from __future__ import annotations

import pandas as pd
import pytest

from accelsim.dse import load_results, run_sweep

from dse_util import write_exp
from test_dse_runner import GRID

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def test_ray_matches_local(tmp_path, local_ray):
    exp = write_exp(tmp_path, GRID)
    run_sweep(exp, tmp_path / "local", workers=2)
    rep = run_sweep(exp, tmp_path / "ray", backend="ray", chunk_size=3)
    assert rep.backend == "ray" and rep.evaluated == 12 and rep.workers == 2
    pd.testing.assert_frame_equal(load_results(tmp_path / "local", status=None),
                                  load_results(tmp_path / "ray", status=None))


def test_ray_optuna_and_failures_match_local(tmp_path, local_ray):
    body = GRID.replace("  memory.dram", "  units.sa.pe_dtype: [bf16, int8]\n  memory.dram") + \
        "strategy: {kind: optuna, budget: 10, population: 5, seed: 1}\n"
    exp = write_exp(tmp_path, body)
    run_sweep(exp, tmp_path / "local", workers=1)
    run_sweep(exp, tmp_path / "ray", backend="ray")
    a = load_results(tmp_path / "local", status=None)
    pd.testing.assert_frame_equal(a, load_results(tmp_path / "ray", status=None))
    assert (a["status"] == "error").any() or (a["units.sa.pe_dtype"] == "bf16").all()
