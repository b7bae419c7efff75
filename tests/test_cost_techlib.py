"""The technology library's data: every constant cited, unique, typed; DRAM kinds; errors."""
from __future__ import annotations

import pytest

from accelsim.cost import techlib
from accelsim.errors import AccelsimError

CONFIDENCE = {"primary", "measured", "secondary", "textbook", "derivation", "approximation",
              "projection"}


def test_every_constant_has_a_source_unit_and_scaling():
    es = techlib.entries()
    assert len(es) > 40
    for e in es:
        assert e.source.strip() and e.unit.strip(), e
        assert e.scales in {"energy", "area", "leakage", "none"}, e
        assert e.confidence in CONFIDENCE, e
        if e.scales != "none":
            assert e.node_nm is not None, e


def test_no_unverified_recalled_values_in_the_library():
    for e in techlib.entries():
        text = f"{e.source} {e.confidence}".lower()
        assert "recalled" not in e.confidence and "verify" not in text, e


def test_one_entry_per_component_action_params_node():
    keys = [(e.component, e.action, e.params, e.node_nm) for e in techlib.entries()]
    assert len(keys) == len(set(keys))


def test_horowitz_values_as_published():
    assert techlib.get("int_multiplier", "mul", bits=8).value == 0.2
    assert techlib.get("fp_multiplier", "mul", format="fp32").value == 3.7
    assert techlib.get("fp_adder", "area", format="fp16").value == 1360
    assert techlib.get("int_adder", "add", bits=32).node_nm == 45


def test_dram_kinds_and_their_errors():
    kinds = techlib.dram_kinds()
    for k in ("ddr3", "lpddr4", "hbm2", "hbm2e", "hbm3"):
        assert k in kinds
    assert techlib.check_dram_kind("HBM3") == "hbm3"
    with pytest.raises(AccelsimError, match=r"unknown DRAM kind 'hbm'.*did you mean.*library has: "
                                            r"ddr3, ddr4, ddr5, hbm2"):
        techlib.check_dram_kind("hbm")
    with pytest.raises(AccelsimError, match="unknown DRAM kind 'lpddr5'"):
        techlib.check_dram_kind("lpddr5")  # no verified source: left out, not guessed


def test_missing_entry_names_what_exists():
    with pytest.raises(AccelsimError, match=r"component 'register', action 'read_bit'.*actions: "
                                            r"area_bit, write_bit"):
        techlib.get("register", "read_bit")


def test_calibrations_say_what_they_were_fitted_to():
    c = techlib.calibrations()["integration_overhead"]
    assert c.value > 1 and "TPU v1" in c.fitted_to and c.error and c.how
    assert techlib.calibration("integration_overhead") == c.value
