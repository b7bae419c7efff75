"""The PIM units' ``bundle_timing: ideal`` (the Duplex authors' released simulator: Logic-PIM at
logic_x x the xPU's memory_bandwidth, Bank-PIM at pim_x x it; docs/duplex.md "Bank bundles")
and the reproduction's ``ideal-pim`` setup (sensitivity rows) that uses it."""
from __future__ import annotations

import pytest

import accelsim
from accelsim.arch.device import load_arch
from accelsim.errors import AccelsimError
from accelsim.workload.ops import Gemm

from conftest import ROOT

DUPLEX = ROOT / "configs" / "duplex"


def _lpim(name: str, timing: str = "ideal"):
    return load_arch(DUPLEX / f"{name}.yaml", [f"units.lpim.bundle_timing={timing}"]).units["lpim"]


def test_ideal_rate_is_logic_x_and_pim_x_times_the_xpu_path():
    """H100 preset: memory_bandwidth 3,352 GB/s, logic_x 4, pim_x 16 (hardware_config.h lines
    210-215): Logic-PIM / BankGroup-PIM 13,408 GB/s, Bank-PIM 53,632 GB/s over the five stacks."""
    assert _lpim("duplex").bandwidth_gb_s() == pytest.approx(4 * 3352)
    assert _lpim("bankgroup_pim").bandwidth_gb_s() == pytest.approx(4 * 3352)
    assert _lpim("bank_pim").bandwidth_gb_s() == pytest.approx(16 * 3352)
    # the default stays the standard's sustained rate (refresh: 2.42 TB/s per stack)
    dram = _lpim("duplex", "dram")
    assert dram.bandwidth_gb_s() == pytest.approx(12120.97, rel=1e-5)
    assert dram.bundle().column_ratio == 4.0 and _lpim("bank_pim").bundle().column_ratio == 16.0
    # the peak (the paper's Op/B) does not depend on the timing mode
    assert _lpim("duplex").opb() == dram.opb()


def test_ideal_rate_without_an_override_is_the_column_rate():
    """No bandwidth_gb_s on the memory: the ideal path is the bus peak, so 4x it is the bundles'
    column rate (b x B per tCCD_L on every pseudo-channel)."""
    dev = accelsim.arch_from_dict({
        "name": "t", "clock_ghz": 1.0, "tech_node_nm": 7,
        "units": {"lpim": {"type": "logic_pim", "clock_ghz": 0.65, "bundle_timing": "ideal"}},
        "memory": {"hbm": {"type": "dram", "standard": "duplex_hbm3", "stacks": 2}}})
    u = dev.units["lpim"]
    assert u.bandwidth_gb_s() == pytest.approx(u.bandwidth_gb_s(peak=True))
    assert u.bandwidth_gb_s() == pytest.approx(2 * 32 * 64 / 0.769, rel=1e-3)


def test_ideal_gemv_time_by_hand():
    """Mixtral expert GEMV, 4096 x 14336 FP16 at m = 1: 2 k n bytes / 13,408 GB/s."""
    u = _lpim("duplex")
    k, n = 4096, 14336
    c = u.cost(Gemm("v", m=1, n=n, k=k, dtype="fp16"))
    assert c.compute_cycles / (u.clock_ghz * 1e9) == pytest.approx(2 * k * n / 13408e9)
    assert c.actions["bundle_read_bits"] == 8 * 2 * k * n   # energy counts: unchanged


def test_bad_bundle_timing_is_one_clear_error():
    with pytest.raises(AccelsimError, match="bundle_timing"):
        _lpim("duplex", "ramulator")


def test_reproduction_applies_the_ideal_pim_only_where_there_is_one():
    """Setup "ideal-pim" (sensitivity rows) sets the PIM unit's ideal timing on systems with a
    PIM and only there; the main setup "paper" keeps the bank-level bundle timing."""
    from accelsim.reproduce.duplex_serving import (CONFIGS, IDEAL_PIM, SETUPS, XPUS,
                                                   system_overrides)
    for name in ("duplex_4x", "duplex_pe_et_2x8", "bank_pim_4x"):
        for setup, (xpu, pim) in SETUPS.items():
            assert system_overrides(CONFIGS / f"{name}.yaml", setup) == XPUS[xpu] + pim
    assert system_overrides(CONFIGS / "gpu_4x.yaml", "ideal-pim") == XPUS["paper"]
    assert SETUPS["ideal-pim"][1] == IDEAL_PIM and SETUPS["paper"][1] == ()
    from accelsim.system import load_system
    path = CONFIGS / "duplex_4x.yaml"
    assert load_system(path, system_overrides(path, "ideal-pim")).device.units[
        "lpim"].config.bundle_timing == "ideal"
    assert load_system(path, system_overrides(path)).device.units[
        "lpim"].config.bundle_timing == "dram"
