"""Systolic-array timing and traffic: closed forms, SCALE-Sim agreement, DRAM stalls."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

import accelsim
from accelsim.errors import AccelsimError

from conftest import ROOT, gemm_trace, sa_arch

FIXTURE = ROOT / "tests" / "fixtures" / "scalesim" / "results.csv"


def scalesim_formula(m, n, k, r, c, df):
    """SCALE-Sim 3.0.0's compute cycles, read from its source (see the fixture README)."""
    if df == "os":
        return math.ceil(m / r) * math.ceil(n / c) * (k + r + c - 2) - 1
    if df == "ws":
        return math.ceil(k / r) * math.ceil(n / c) * (2 * r + c + m - 2) - 1
    return math.ceil(k / r) * math.ceil(m / c) * (2 * r + c + n - 2) - 1


def calc_rows():
    if not FIXTURE.exists():
        return []
    with FIXTURE.open() as f:
        return [r for r in csv.DictReader(f) if r["bw_mode"] == "CALC" and r["status"] == "ok"]


@pytest.mark.parametrize("row", calc_rows(), ids=lambda r: r["case"])
def test_compute_cycles_equal_real_scalesim_runs(row):
    m, n, k, r, c = (int(row[x]) for x in ("M", "N", "K", "rows", "cols"))
    arch = sa_arch(r, c, row["dataflow"])
    for fidelity in accelsim.FIDELITIES:
        res = accelsim.simulate(arch, gemm_trace(m, n, k), fidelity=fidelity)
        assert res.cycles == int(row["compute_cycles"]), fidelity
        assert res.stall_cycles == 0
    util = 100 * m * n * k / (res.cycles * r * c)
    assert util == pytest.approx(float(row["overall_util_pct"]), abs=0.01)
    # DRAM reads are compulsory in both tools when everything fits (1024 KB per operand)
    b = res.bytes_by_level()
    assert b["dram_read"] == int(row["ifmap_dram_reads"]) + int(row["filter_dram_reads"])
    if row["dataflow"] == "os":  # ws/is: SCALE-Sim writes every K fold's partial sums to DRAM
        assert b["dram_write"] == int(row["ofmap_dram_writes"])


def test_fixture_is_present_and_broad():
    rows = calc_rows()
    assert len(rows) >= 200, "run tests/fixtures/scalesim/generate.py"
    assert {r["dataflow"] for r in rows} == {"os", "ws", "is"}
    assert len({(r["rows"], r["cols"]) for r in rows}) >= 6


@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("arr", [32, 128])
def test_shipped_scalesim_configs(df, arr):
    arch = accelsim.load_arch(ROOT / "configs" / "scalesim" / f"sa{arr}_{df}.yaml")
    cfg = arch.units["sa"].config
    assert (cfg.rows, cfg.cols, cfg.dataflow, cfg.fold_overlap) == (arr, arr, df, False)
    assert cfg.sram.ifmap_kb == cfg.sram.filter_kb == cfg.sram.ofmap_kb == 1024
    for m, n, k in [(1, 4096, 4096), (2048, 4096, 4096), (16, 11008, 4096), (100, 37, 53)]:
        res = accelsim.simulate(arch, gemm_trace(m, n, k), fidelity="analytical")
        assert res.cycles == scalesim_formula(m, n, k, arr, arr, df)


def test_scalesim_notes_llm_sized_numbers():
    """The notes' measured SCALE-Sim runs on 1x4096x4096 (32x32 os: 532223; 128x128 os: 139199)."""
    for arr, expected in ((32, 532223), (128, 139199)):
        arch = sa_arch(arr, arr, "os")
        assert accelsim.simulate(arch, gemm_trace(1, 4096, 4096), "analytical").cycles == expected


@pytest.mark.parametrize("double", [True, False])
@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("mnk", [(70, 50, 40), (7, 50, 40), (70, 5, 4)])
def test_fold_overlap_formula(df, double, mnk):
    r, c, (m, n, k) = 16, 8, mnk
    arch = sa_arch(r, c, df, overlap=True, stationary_double_buffer=double)
    sr, sc, t = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[df]
    folds = math.ceil(sr / r) * math.ceil(sc / c)
    lat = r + c - 2
    if df == "os":
        expected = folds * max(t, r) + lat
    elif double:  # next stationary tile loads while this one streams; first preload exposed
        expected = r + (folds - 1) * max(t, r) + t + lat
    else:
        expected = folds * (r + t) + lat
    for fidelity in ("analytical", "op", "tile"):
        assert accelsim.simulate(arch, gemm_trace(m, n, k), fidelity).cycles == expected
    # overlap never makes a GEMM slower than back-to-back folds (up to SCALE-Sim's -1)
    assert expected <= scalesim_formula(m, n, k, r, c, df) + 1 + folds * max(0, r - t)


@pytest.mark.parametrize("df", ["ws", "is"])
def test_stationary_double_buffer_hides_preloads_and_costs_registers(df):
    """Double-buffering the stationary operand saves (folds - 1) * min(T, R) cycles and pays
    one more stationary register per PE; SCALE-Sim-exact timing (no overlap) ignores it."""
    r, c, (m, n, k) = 16, 8, (70, 50, 40)
    runs = {d: accelsim.simulate(sa_arch(r, c, df, overlap=True, stationary_double_buffer=d),
                                 gemm_trace(m, n, k), "analytical") for d in (True, False)}
    sr, sc, t = {"ws": (k, n, m), "is": (k, m, n)}[df]
    folds = math.ceil(sr / r) * math.ceil(sc / c)
    assert runs[False].cycles - runs[True].cycles == (folds - 1) * min(t, r)
    assert runs[True].cost.area_mm2 > runs[False].cost.area_mm2
    exact = {d: accelsim.simulate(sa_arch(r, c, df, stationary_double_buffer=d),
                                  gemm_trace(m, n, k), "analytical").cycles for d in (True, False)}
    assert exact[True] == exact[False] == scalesim_formula(m, n, k, r, c, df)


def test_batched_gemm_is_batch_times_folds():
    arch = sa_arch(8, 8, "ws")
    one = accelsim.simulate(arch, gemm_trace(5, 20, 30), "analytical").cycles
    four = accelsim.simulate(arch, gemm_trace(5, 20, 30, batch=4), "analytical").cycles
    assert four + 1 == 4 * (one + 1)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_dram_traffic_is_compulsory_when_everything_fits(df):
    arch = sa_arch(8, 8, df)
    res = accelsim.simulate(arch, gemm_trace(40, 24, 56), "analytical")
    b = res.bytes_by_level()
    assert b["dram_read"] == 40 * 56 + 56 * 24
    assert b["dram_write"] == 40 * 24


def test_small_sram_forces_refetch():
    big = accelsim.simulate(sa_arch(8, 8, "os", sram_kb=1024), gemm_trace(64, 64, 256), "analytical")
    small = accelsim.simulate(sa_arch(8, 8, "os", sram_kb=4), gemm_trace(64, 64, 256), "analytical")
    # column folds outer: each B column tile stays while the 8 row folds use it, but A
    # (64x256 = 16 KiB) no longer fits in 2 KiB (half of 4 KiB): re-read for each of 8 col folds
    assert small.bytes_by_level()["dram_read"] == 8 * 64 * 256 + 256 * 64
    assert big.bytes_by_level()["dram_read"] == 64 * 256 + 256 * 64


def test_partial_sums_accumulate_on_chip_across_consecutive_k_folds():
    # ws: the K folds of one column tile are consecutive, so partial sums never leave the
    # array's output buffer while one tile (128x8 at 4 B = 4 KiB) fits in half of 16 KiB
    res = accelsim.simulate(sa_arch(8, 8, "ws", sram_kb=16), gemm_trace(128, 64, 32), "analytical")
    assert res.bytes_by_level()["dram_write"] == 128 * 64


def test_partial_sums_spill_when_a_tile_does_not_fit():
    # ws with 2 KiB SRAMs: one output tile (4 KiB of accumulators) does not fit in 1 KiB,
    # so each of the 4 K folds spills its partial sums and the next reads them back
    res = accelsim.simulate(sa_arch(8, 8, "ws", sram_kb=2), gemm_trace(128, 64, 32), "analytical")
    b = res.bytes_by_level()
    k_folds, col_folds, tile = 4, 8, 128 * 8
    assert b["dram_write"] == col_folds * ((k_folds - 1) * tile * 4 + tile)
    assert b["dram_read"] - res.per_op["dram_read_bytes"].sum() == 0  # consistency
    a_reads = col_folds * 128 * 32  # A (4 KiB) does not fit: re-read per column fold
    assert b["dram_read"] == a_reads + 32 * 64 + col_folds * (k_folds - 1) * tile * 4


def test_limited_bandwidth_stalls_and_fidelities_agree_closely():
    arch = sa_arch(32, 32, "os", overlap=True, bw=4, sram_kb=8)
    tr = gemm_trace(256, 256, 512)
    res = {f: accelsim.simulate(arch, tr, f) for f in accelsim.FIDELITIES}
    compute = res["analytical"].compute_cycles
    assert res["analytical"].stall_cycles > 0
    dram = sum(res["tile"].bytes_by_level()[k] for k in ("dram_read", "dram_write"))
    for r in res.values():
        assert r.cycles >= max(compute, dram / 4)
    # a lone op: op fidelity equals the analytical closed form; tile replays the exact
    # double-buffer recurrence, which the closed form approximates
    assert res["op"].cycles == res["analytical"].cycles
    assert res["tile"].cycles == pytest.approx(res["analytical"].cycles, rel=0.05)


def test_single_buffering_exposes_transfers():
    # same traffic (everything resident either way); only the overlap differs
    tr = gemm_trace(128, 128, 256)
    db = accelsim.simulate(sa_arch(16, 16, "os", overlap=True, bw=8), tr, "tile")
    sb = accelsim.simulate(sa_arch(16, 16, "os", overlap=True, bw=8, double_buffered=False),
                           tr, "tile")
    assert sb.bytes_by_level() == db.bytes_by_level()
    assert sb.cycles > db.cycles


def test_unsupported_dtype_combination_is_a_clear_error():
    arch = sa_arch(8, 8, "os", pe="int8")
    with pytest.raises(AccelsimError, match="cannot run op 'g'.*A=bf16"):
        accelsim.simulate(arch, gemm_trace(8, 8, 8, dtype="bf16"), "analytical")
    # int4 weights on int8 PEs and int8 on bf16 PEs are exact: allowed
    accelsim.simulate(arch, gemm_trace(8, 8, 8, dtype="int8", w_dtype="int4"), "analytical")
    accelsim.simulate(sa_arch(8, 8, pe="bf16"), gemm_trace(8, 8, 8, dtype="int8"), "analytical")


def _prefill_like(df, **kw):
    """A ws/is GEMM whose streamed dimension is long and whose ofmap SRAM is small."""
    arch = sa_arch(16, 16, df, overlap=True, sram_kb=16, **kw)
    m, n, k = (1000, 64, 128) if df == "ws" else (64, 1000, 128)
    return arch, gemm_trace(m, n, k)


@pytest.mark.parametrize("df", ["ws", "is"])
def test_stream_tiling_cuts_dram_traffic_at_equal_compute(df):
    """Chunking the streamed dimension keeps partial sums on chip: far fewer DRAM bytes, the
    same compute cycles (chunks >= R), a few more stationary preloads (pe_shift_bits)."""
    runs = {st: accelsim.simulate(*_prefill_like(df, stream_tiling=st), "analytical")
            for st in (True, False)}
    on, off = runs[True], runs[False]
    traffic = {st: sum(r.bytes_by_level()[k] for k in ("dram_read", "dram_write"))
               for st, r in runs.items()}
    assert traffic[True] < 0.5 * traffic[False]
    assert on.bytes_by_level()["dram_write"] == 64 * 1000 * 1  # outputs written once (int8)
    assert on.compute_cycles == off.compute_cycles
    assert on.actions["sa.pe_shift_bits"] > off.actions["sa.pe_shift_bits"]
    assert on.actions["sa.mac_int8"] == off.actions["sa.mac_int8"]
    for fidelity in ("op", "tile"):  # the same schedule at every fidelity
        assert accelsim.simulate(*_prefill_like(df), fidelity).compute_cycles == on.compute_cycles


@pytest.mark.parametrize("kw", [dict(overlap=False), dict(stationary_double_buffer=False),
                                dict(df="os")])
def test_stream_tiling_only_where_it_costs_no_cycles(kw):
    """SCALE-Sim-exact timing, single-buffered stationary operands and os never chunk."""
    df = kw.pop("df", "ws")
    base = dict(overlap=True) | kw
    arch_on = sa_arch(16, 16, df, sram_kb=16, stream_tiling=True, **base)
    arch_off = sa_arch(16, 16, df, sram_kb=16, stream_tiling=False, **base)
    tr = gemm_trace(1000, 64, 128)
    a, b = (accelsim.simulate(x, tr, "analytical") for x in (arch_on, arch_off))
    assert (a.cycles, a.bytes_by_level(), a.actions) == (b.cycles, b.bytes_by_level(), b.actions)


def test_stream_tiling_keeps_whole_t_when_everything_fits():
    arch_on = sa_arch(16, 16, "ws", overlap=True)  # 1 MiB SRAMs: every operand resident
    arch_off = sa_arch(16, 16, "ws", overlap=True, stream_tiling=False)
    tr = gemm_trace(1000, 64, 128)
    a, b = (accelsim.simulate(x, tr, "analytical") for x in (arch_on, arch_off))
    assert (a.cycles, a.bytes_by_level(), a.actions) == (b.cycles, b.bytes_by_level(), b.actions)
