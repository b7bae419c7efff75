"""Node scaling (Stillmaker and Baas 2017 + TSMC N5): explicit numbers, interpolation, errors."""
from __future__ import annotations

import math

import pytest

from accelsim.cost import scaling
from accelsim.errors import AccelsimError


def _e(a, b, c, v):
    return a * v * v + b * v + c


# HP fits E = a V^2 + b V + c at nominal VDD, typed in from the paper's coefficient table
E45 = _e(1.018, -0.3107, 0.1539, 1.0)
E32 = _e(0.8367, -0.4341, 0.1701, 0.9)
E20 = _e(0.373, -0.1582, 0.04104, 0.9)
E7 = _e(0.1776, -0.09097, 0.02447, 0.7)


def test_supported_nodes_cover_the_issue_path():
    for n in (45, 28, 22, 16, 7, 5):
        assert scaling.check_node(n) == n


@pytest.mark.parametrize("bad", [12, 3, 65, 28.5])
def test_unsupported_node_lists_the_supported_ones(bad):
    with pytest.raises(AccelsimError, match=r"unsupported technology node .* supported nodes: "
                                            r"45, 40, 32, 28, 22, 20, 16, 14, 10, 7, 5 nm"):
        scaling.check_node(bad)


def test_table_nodes_use_the_published_factors():
    assert scaling.area_factor(45, 7) == pytest.approx(0.059)
    assert scaling.area_factor(45, 32) == pytest.approx(0.46)
    assert scaling.area_factor(45, 16) == pytest.approx(0.19)
    assert scaling.energy_factor(45, 7) == pytest.approx(E7 / E45)
    assert scaling.energy_factor(45, 32) == pytest.approx(E32 / E45)
    assert scaling.energy_factor(45, 7) == pytest.approx(0.0555, abs=5e-4)


def test_interpolated_nodes_are_geometric_between_neighbours():
    w = math.log(32 / 28) / math.log(32 / 20)
    assert scaling.energy_factor(45, 28) == pytest.approx(
        math.exp((1 - w) * math.log(E32 / E45) + w * math.log(E20 / E45)))
    assert scaling.area_factor(45, 28) == pytest.approx(
        math.exp((1 - w) * math.log(0.46) + w * math.log(0.21)))
    assert scaling.factors(28).how.startswith("log-log interpolation between 32 and 20")


def test_5nm_extends_7nm_by_tsmc_n5_factors():
    assert scaling.area_factor(7, 5) == pytest.approx(1 / 1.84, rel=1e-3)
    assert scaling.energy_factor(7, 5) == pytest.approx(0.70)


def test_factors_are_monotone_and_invertible():
    nodes = scaling.SUPPORTED_NODES
    areas = [scaling.factors(n).area for n in nodes]
    energies = [scaling.factors(n).energy for n in nodes]
    assert areas == sorted(areas, reverse=True) and energies == sorted(energies, reverse=True)
    for a in nodes:
        for b in nodes:
            assert scaling.energy_factor(a, b) * scaling.energy_factor(b, a) == pytest.approx(1)
            assert scaling.area_factor(a, b) * scaling.area_factor(b, a) == pytest.approx(1)
    assert scaling.leakage_factor(45, 7) == scaling.energy_factor(45, 7)


def test_scale_dispatch():
    assert scaling.scale(2.0, "none", 45, 7) == 2.0
    assert scaling.scale(2.0, "energy", None, 7) == 2.0
    assert scaling.scale(2.0, "area", 45, 7) == pytest.approx(2 * 0.059)
    with pytest.raises(ValueError):
        scaling.scale(1.0, "speed", 45, 7)
