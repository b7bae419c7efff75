"""The systolic pass's SRAM-reuse rules on plain lists (``systolic_reuse``) against the numpy
formulation they replaced (np.unique first/last occurrence, shifted comparisons, np.where),
bit for bit, on random tile-id sequences and byte counts (issue 16)."""
from __future__ import annotations

import random

import numpy as np
import pytest

from accelsim.arch.units.systolic_reuse import input_reads, output_traffic, residency
# the numpy formulation, as the per-fold reference (the code before fold classes) keeps it
from systolic_perfold_ref import _input_reads as _ref_input_reads
from systolic_perfold_ref import _output_traffic as _ref_output_traffic


def _np_input_reads(ids, nbytes, mode, repeat):
    return _ref_input_reads(np.asarray(ids), np.asarray(nbytes), mode, repeat)


def _np_output_traffic(ids, n, out_b, acc_b, partial, mode, repeat):
    reads, writes, _ = _ref_output_traffic(np.asarray(ids), np.asarray(n), out_b, acc_b,
                                           partial, mode, repeat)   # (its third: spill total)
    return reads, writes


@pytest.mark.parametrize("seed", range(3))
def test_reuse_rules_equal_the_numpy_formulation(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(300):
        k, repeat = rng.randint(1, 9), rng.randint(1, 3)
        ids = [rng.randint(0, 4) for _ in range(k)]
        n = [rng.randint(1, 1 << 20) for _ in range(k * repeat)]
        nbytes = [v * rng.choice([0.5, 1.0, 2.0, 2.125]) for v in n]
        for mode in ("resident", "reuse", "stream"):
            got = np.array(input_reads(ids, nbytes, mode, repeat))
            assert np.array_equal(got, _np_input_reads(ids, nbytes, mode, repeat))
            for partial in (False, True):
                out_b, acc_b = rng.choice([1.0, 2.0]), 4.0
                r, w = output_traffic(ids, n, out_b, acc_b, partial, mode, repeat)
                wr, ww = _np_output_traffic(ids, n, out_b, acc_b, partial, mode, repeat)
                assert np.array_equal(np.array(r), wr) and np.array_equal(np.array(w), ww)
        tile = [float(v) for v in nbytes]
        usable = rng.choice([0.0, max(tile), sum(tile)])
        want = "resident" if sum(tile) <= usable else \
            ("reuse" if max(tile) <= usable else "stream")
        assert residency(sum(tile), tile, usable) == want


def test_row_sums_are_the_per_array_sums() -> None:
    """``SystolicArray._pass`` sums its per-class arrays as the rows of one matrix: each row
    sum must be that array's own numpy sum (the order the earlier per-array code used)."""
    rng = random.Random(7)
    for _ in range(2000):
        k, n = rng.randint(1, 12), rng.randint(1, 60)
        m = np.array([[rng.random() * 10 ** rng.randint(0, 12) for _ in range(n)]
                      for _ in range(k)])
        w = np.array([float(rng.randint(1, 4096)) for _ in range(n)])
        rows = (m * w).sum(axis=1).tolist()
        assert rows == [float((m[i] * w).sum()) for i in range(k)]
