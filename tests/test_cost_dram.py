"""DRAM row activation: derived values recompute from their raw inputs; streaming count
(bytes / row size) in the breakdown; added only where the per-bit figure excludes it."""
from __future__ import annotations

import csv

import pytest

import accelsim
from accelsim.cost import memory, techlib
from accelsim.cost.scaling import DATA
from accelsim.errors import AccelsimError

from conftest import gemm_trace

RAW = "vdd_v idd0_ma idd2n_ma idd3n_ma idd4r_ma idd4w_ma vpp_v ipp0_ma ipp2n_ma ipp3n_ma " \
      "ipp4r_ma ipp4w_ma tck_ns tras_ck trc_ck tburst_ck bl device_width devices " \
      "page_bytes_device".split()


def _raw() -> dict[str, dict[str, float]]:
    with open(DATA / "dram_idd.csv", newline="") as f:
        return {r["kind"]: {k: float(r[k]) for k in RAW} | {"source": r["source"]}
                for r in csv.DictReader(f)}


def _act_pj(r):
    """Micron TN-41-01: one ACT+PRE, per device x devices (mA x ns x V = pJ)."""
    trc, tras = r["trc_ck"] * r["tck_ns"], r["tras_ck"] * r["tck_ns"]
    one = sum(v * (i0 * trc - (i3 * tras + i2 * (trc - tras))) for v, i0, i3, i2 in (
        (r["vdd_v"], r["idd0_ma"], r["idd3n_ma"], r["idd2n_ma"]),
        (r["vpp_v"], r["ipp0_ma"], r["ipp3n_ma"], r["ipp2n_ma"])))
    return one * r["devices"]


def _read_pj_per_bit(r):
    i = r["vdd_v"] * (r["idd4r_ma"] - r["idd3n_ma"]) + r["vpp_v"] * (r["ipp4r_ma"] - r["ipp3n_ma"])
    return i * r["tburst_ck"] * r["tck_ns"] / (r["bl"] * r["device_width"])


def test_activation_energies_recompute_from_the_documented_inputs():
    raw = _raw()
    # IDD-derived rows (the Duplex per-path rows cite FGDRAM's 909 pJ instead: test_duplex.py)
    acts = [e for e in techlib.find("dram", "activate") if "data/dram_idd.csv" in e.source]
    assert {e.param("kind") for e in acts} == set(raw) == {"ddr3", "ddr4", "ddr5", "hbm2",
                                                           "lpddr4"}
    for e in acts:
        r = raw[e.param("kind")]
        assert e.value == pytest.approx(_act_pj(r), rel=1e-4), e
        assert float(e.param("page_bytes")) == r["page_bytes_device"] * r["devices"]
        assert e.unit == "pJ" and e.confidence == "derivation"
        assert r["source"].split(" @ ")[0].split()[0] in e.source  # same repository cited
        assert "data/dram_idd.csv" in e.source


def test_derived_per_bit_figures_recompute_and_existing_ones_are_kept():
    raw = _raw()
    for k in ("ddr4", "ddr5"):  # new kinds: per-bit derived from IDD4R
        assert techlib.get("dram", "access_bit", kind=k).value == pytest.approx(
            _read_pj_per_bit(raw[k]), rel=1e-3)
    # cited figures are not replaced by the IDD cross-check (which excludes I/O)
    assert techlib.get("dram", "access_bit", kind="hbm2").value == 6.25
    assert techlib.get("dram", "access_bit", kind="lpddr4").value == 8
    assert _read_pj_per_bit(raw["hbm2"]) < 6.25 and _read_pj_per_bit(raw["lpddr4"]) < 8


def test_which_kinds_include_activation_in_their_per_bit_figure():
    inc = {k: memory.dram_activation(k).in_access_bit for k in ("ddr3", "hbm2", "lpddr4",
                                                                "ddr4", "ddr5")}
    assert inc == {"ddr3": True, "hbm2": True, "lpddr4": True, "ddr4": False, "ddr5": False}
    for k in ("hbm2e", "hbm3", "hbm4", "lpddr2"):
        assert memory.dram_activation(k) is None
        assert "activate" not in memory.dram_costs(k)


def test_new_kinds_are_valid_and_lpddr5_is_still_missing():
    for k in ("ddr4", "ddr5"):
        assert techlib.check_dram_kind(k.upper()) == k
        assert memory.dram_costs(k)["read_bit"] > 0
    with pytest.raises(AccelsimError, match="unknown DRAM kind 'lpddr5'"):
        techlib.check_dram_kind("lpddr5")


def _sim(kind):
    arch = accelsim.arch_from_dict({
        "clock_ghz": 1.0, "tech_node_nm": 28,
        "units": {"sa": {"type": "systolic_array", "rows": 16, "cols": 16}},
        "memory": {"dram": {"bandwidth_bytes_per_cycle": "unlimited", "kind": kind}}})
    res = accelsim.simulate(arch, gemm_trace(256, 256, 256))
    bits = res.actions["dram.read_bits"] + res.actions["dram.write_bits"]  # the memory's actions
    assert bits > 0
    return res, bits


@pytest.mark.parametrize("kind", ["ddr4", "ddr5", "hbm2", "lpddr4", "ddr3"])
def test_gemm_counts_one_activation_per_row_streamed(kind):
    res, bits = _sim(kind)
    act = memory.dram_activation(kind)
    n = bits / 8 / act.page_bytes
    assert res.cost.dram_activations == pytest.approx(n)
    assert res.to_dict()["cost"]["dram_activations"] == pytest.approx(n)
    assert res.cost.energy_by_component["dram.activate"] == pytest.approx(
        n * act.energy_pj * 1e-12)
    assert sum(res.per_op["energy_j"]) == pytest.approx(res.cost.dynamic_j)


@pytest.mark.parametrize("kind", ["hbm2", "lpddr4", "ddr3"])
def test_no_double_counting_where_per_bit_includes_activation(kind):
    res, bits = _sim(kind)
    e = res.cost.energy_by_component
    cited = techlib.get("dram", "access_bit", kind=kind).value
    assert e["dram"] + e["dram.activate"] == pytest.approx(bits * cited * 1e-12)  # split only
    assert e["dram.activate"] < e["dram"]


@pytest.mark.parametrize("kind", ["ddr4", "ddr5"])
def test_activation_added_where_per_bit_excludes_it(kind):
    res, bits = _sim(kind)
    e = res.cost.energy_by_component
    assert e["dram"] == pytest.approx(bits * techlib.get("dram", "access_bit", kind=kind).value
                                      * 1e-12)
    assert e["dram.activate"] > 0


def test_kinds_without_activation_have_no_activation_entry():
    res, _ = _sim("hbm3")
    assert "dram.activate" not in res.cost.energy_by_component
    assert res.cost.dram_activations is None


def test_refresh_energies_recompute_from_the_documented_inputs():
    """E_ref = devices x VDD x (IDD5AB - IDD3N) x tRFC x tCK (DRAMsim3 ref_energy_inc)."""
    with open(DATA / "dram_idd.csv", newline="") as f:
        raw = {r["kind"]: r for r in csv.DictReader(f)}
    refs = techlib.find("dram", "refresh")
    assert {e.param("kind") for e in refs} == {"ddr3", "ddr4", "hbm2", "lpddr4"}
    for e in refs:
        r = {k: float(raw[e.param("kind")][k]) for k in
             ("devices", "vdd_v", "idd5ab_ma", "idd3n_ma", "trfc_ck", "tck_ns")}
        want = r["devices"] * r["vdd_v"] * (r["idd5ab_ma"] - r["idd3n_ma"]) * r["trfc_ck"] \
            * r["tck_ns"]
        assert e.value == pytest.approx(want, rel=1e-6), e
        assert e.unit == "pJ" and "data/dram_idd.csv" in e.source
        assert memory.dram_costs(e.param("kind"))["refresh"] == e.value
    assert "refresh" not in memory.dram_costs("ddr5")
