"""Exact Pareto sets and hypervolume, checked against brute force and optuna."""
from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from accelsim.dse.pareto import default_reference, hypervolume, pareto_front, pareto_mask


def brute_front(v: np.ndarray) -> np.ndarray:
    n = len(v)
    keep = ~np.isnan(v).any(axis=1)
    out = keep.copy()
    for i in range(n):
        for j in range(n):
            if i != j and keep[i] and keep[j] and np.all(v[j] <= v[i]) and np.any(v[j] < v[i]):
                out[i] = False
                break
    return out


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_front_matches_brute_force(k):
    rng = np.random.default_rng(k)
    for trial in range(40):
        v = rng.integers(0, 5, size=(rng.integers(1, 60), k)).astype(float)  # many ties
        if trial % 4 == 0:
            v[rng.integers(len(v)), rng.integers(k)] = np.nan
        assert np.array_equal(pareto_mask(v), brute_front(v)), (k, trial)


def test_mixed_directions_and_duplicates():
    v = np.array([[1, 10], [2, 20], [2, 20], [3, 15], [0, 5], [np.nan, 99]])
    senses = ["min", "max"]
    expect = brute_front(v * np.array([1, -1]))
    mask = pareto_mask(v, senses)
    assert np.array_equal(mask, expect)
    assert mask.tolist() == [True, True, True, False, True, False]  # both copies of (2, 20)


def test_large_front_is_fast_and_exact_on_a_known_front():
    x = np.linspace(0, 1, 5000)
    front = np.c_[x, 1 - x]
    noise = np.random.default_rng(0).random((20000, 2)) * 0.5 + 0.6  # all dominated
    v = np.r_[noise, front]
    mask = pareto_mask(v)
    assert mask.sum() == 5000 and mask[-5000:].all()


def brute_hv(v: np.ndarray, ref: np.ndarray) -> int:
    """Integer cells below ``ref`` dominated by some point (exact for integer data)."""
    cells = itertools.product(*[range(int(r)) for r in ref])
    return sum(1 for c in cells if np.any(np.all(v <= np.array(c), axis=1)))


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_hypervolume_matches_cell_counting(k):
    rng = np.random.default_rng(10 + k)
    for _ in range(15):
        v = rng.integers(0, 6, size=(rng.integers(1, 12), k)).astype(float)
        ref = np.full(k, 6.0)
        assert hypervolume(v, ["min"] * k, ref) == brute_hv(v, ref)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_hypervolume_matches_optuna(k):
    from optuna._hypervolume import compute_hypervolume
    rng = np.random.default_rng(k)
    v = rng.random((60, k))
    v = v[pareto_mask(v)]
    ref = np.full(k, 1.1)
    assert hypervolume(v, ["min"] * k, ref) == pytest.approx(compute_hypervolume(v, ref))


def test_hypervolume_with_maximised_objectives_and_reference():
    v = np.array([[1.0, 4.0], [2.0, 6.0]])  # min x, max y
    ref = default_reference(v, ["min", "max"])
    assert ref == pytest.approx([2.1, 3.8])  # worst + 10% of the range, in each direction
    # by hand: x in [1, 2) up to y 4 (0.2 above the ref), x in [2, 2.1) up to y 6 (2.2 above)
    assert hypervolume(v, ["min", "max"], ref) == pytest.approx(1 * 0.2 + 0.1 * 2.2)
    # flip y to minimisation by hand: same volume
    assert hypervolume(v, ["min", "max"], ref) == pytest.approx(
        hypervolume(v * [1, -1], ["min", "min"], ref * [1, -1]))
    assert hypervolume(v, ["min", "max"], [0.5, 10.0]) == 0.0  # nothing dominates the ref


def test_pareto_front_dataframe():
    df = pd.DataFrame({"lat": [3.0, 1.0, 2.0, 2.0], "tps": [9.0, 1.0, 5.0, 4.0],
                       "name": list("abcd")})
    f = pareto_front(df, {"lat": "min", "tps": "max"})
    assert f["name"].tolist() == ["b", "c", "a"]
    with pytest.raises(KeyError):
        pareto_front(df, {"nope": "min"})
