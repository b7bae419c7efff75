"""Screening funnel: which points are re-evaluated at the detailed fidelity, the fidelity
column, keys and resume."""
from __future__ import annotations

import numpy as np
import pytest

from accelsim.dse import load_experiment, load_results, run_sweep
from accelsim.dse.evaluate import Evaluator, resolve
from accelsim.dse.funnel import within_slack
from accelsim.errors import ConfigError

from dse_util import write_exp

BODY = """\
fidelity: tile
funnel: {screen: analytical, slack: SLACK}
axes:
  units.sa.rows: [16, 32, 64, 128]
  units.sa.cols: [16, 64, 128]
  memory.dram.bandwidth_gb_s: [16, 64, 256]
objectives: {latency_s: min, area_mm2: min}
"""


def test_within_slack_is_the_front_at_zero_and_grows_with_slack() -> None:
    v = np.array([[1.0, 10.0], [2.0, 5.0], [4.0, 1.0], [1.05, 10.5], [3.0, 6.0], [np.nan, 1.0],
                  [2.0, 5.0]])
    zero = within_slack(v, ["min", "min"], 0.0)
    assert zero.tolist() == [True, True, True, False, False, False, True]
    ten = within_slack(v, ["min", "min"], 0.1)
    assert ten.tolist() == [True, True, True, True, False, False, True]
    assert within_slack(v, ["min", "min"], 10.0).tolist() == [True] * 5 + [False, True]
    # a maximised objective: worsened means smaller
    m = np.array([[1.0, 10.0], [2.0, 9.5], [2.0, 5.0]])
    assert within_slack(m, ["min", "max"], 0.1).tolist() == [True, True, False]


def _expected(exp, slack):
    """The screened rows (computed here, one point at a time) and the promoted keys."""
    screen = Evaluator(exp.screening())
    rows = [screen.run(resolve(exp, exp.point(i))) for i in range(exp.space.size)]
    ok = [r for r in rows if r["status"] == "ok" and r["feasible"]]
    mask = within_slack(np.array([[r["latency_s"], r["area_mm2"]] for r in ok]),
                        ["min", "min"], slack)
    return rows, {r["key"] for r, m in zip(ok, mask) if m}


@pytest.mark.parametrize("evaluator", ["batch", "auto"])
@pytest.mark.parametrize("slack", [0.0, 0.3])
def test_funnel_reevaluates_exactly_the_points_within_slack(tmp_path, slack, evaluator) -> None:
    """Per point (``evaluator: batch``: one probe point first, at the detailed fidelity) and
    with the vectorised screen (``auto``: every point screened at once, then only the promoted
    points resolved and run at the detailed fidelity): the same promoted set."""
    import json
    path = write_exp(tmp_path, BODY.replace("SLACK", str(slack)) + f"evaluator: {evaluator}\n")
    exp = load_experiment(path)
    screened, keep = _expected(exp, slack)
    rep = run_sweep(exp, tmp_path / "store", workers=1)
    df = load_results(tmp_path / "store", status=None)
    assert len(df) == exp.space.size == len(screened)
    assert 0 < len(keep) < len(df)
    by_key = df.set_index("key")
    detailed = set(df.loc[df["fidelity"] == "tile", "key"])
    assert set(df["fidelity"]) == {"analytical", "tile"}
    probes = rep.evaluated - rep.screened   # one probe point per base, at the detailed fidelity
    runs = json.loads((tmp_path / "store" / "manifest.json").read_text())["runs"]
    if evaluator == "batch":
        # the probe point runs at the detailed fidelity too; everything else promoted is `keep`
        assert keep <= detailed and len(detailed - keep) <= 1
        assert probes == 1 and rep.screened == exp.space.size - 1
        assert rep.promoted in (len(keep), len(keep) - 1)   # the probe may be one of them
        assert "evaluator" not in runs[0]
    else:
        assert detailed == keep and probes == 0 and rep.screened == exp.space.size
        assert rep.promoted == len(keep) and rep.planned == exp.space.size
        assert runs[0]["evaluator"] == "vector" and runs[-1]["status"] == "finished"
    assert len(detailed) == rep.promoted + probes
    # keys are the experiment's (one per point), screened rows equal a screen-fidelity run
    assert {r["key"] for r in screened} == set(df["key"])
    full = Evaluator(exp)
    for r in screened:
        got = by_key.loc[r["key"]]
        if r["key"] in detailed:
            want = full.run(resolve(exp, exp.point(r["point"])))
            assert got["fidelity"] == "tile" and got["latency_s"] == want["latency_s"]
        else:
            assert got["fidelity"] == "analytical" and got["latency_s"] == r["latency_s"]


def test_funnel_resume_promotes_only_what_is_missing(tmp_path) -> None:
    path = write_exp(tmp_path, BODY.replace("SLACK", "0.2"))
    exp = load_experiment(path)
    first = run_sweep(exp, tmp_path / "s", workers=1)
    assert first.promoted > 0
    again = run_sweep(exp, tmp_path / "s", workers=1, resume=True)
    assert again.evaluated == 0 and again.promoted == 0
    # a wider slack on resume promotes the newly included points only
    wide = write_exp(tmp_path, BODY.replace("SLACK", "2.0"), name="wide.yaml")
    third = run_sweep(load_experiment(wide), tmp_path / "s", workers=1, resume=True)
    df = load_results(tmp_path / "s", status=None)
    assert third.evaluated == 0 and third.promoted > 0
    assert (df["fidelity"] == "tile").sum() >= first.promoted + third.promoted


def test_funnel_is_checked_at_load(tmp_path) -> None:
    bad = BODY.replace("SLACK", "0.1").replace("fidelity: tile", "fidelity: analytical")
    with pytest.raises(ConfigError, match="screen"):
        load_experiment(write_exp(tmp_path, bad))
    with pytest.raises(ConfigError, match="objectives"):
        load_experiment(write_exp(tmp_path, BODY.replace("SLACK", "0.1").replace(
            "objectives: {latency_s: min, area_mm2: min}\n", ""), name="b.yaml"))


def test_store_loads_a_subset_of_columns(tmp_path) -> None:
    """``ResultStore.load(columns=...)``: those columns (if stored) with point, key, status and
    feasible, equal to the full frame's, without reading the config texts."""
    from accelsim.dse import ResultStore
    path = write_exp(tmp_path, BODY.replace("SLACK", "0.1"))
    run_sweep(load_experiment(path), tmp_path / "s", workers=1)
    rs = ResultStore(tmp_path / "s")
    full = rs.load(status=None)
    part = rs.load(status=None, columns=["latency_s", "no_such_column", "fidelity"])
    assert set(part.columns) == {"point", "key", "status", "feasible", "fidelity", "latency_s"}
    for c in part.columns:
        assert part[c].tolist() == full[c].tolist(), c
