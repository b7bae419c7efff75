"""Accounting: energy = actions x energy per action + leakage x time; area; results; errors."""
from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
import pytest
from pydantic import Field

import accelsim
from accelsim.arch import (Component, OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig,
                           register_unit)
from accelsim.cost.components import build
from accelsim.cost.estimator import arch_cost, tokens_of
from accelsim.errors import AccelsimError, ConfigError
from accelsim.workload import Gemm, Segment, Trace, Vector

from conftest import ROOT, gemm_trace, sa_arch


def _arch(units, node=28, kind=None, bw="unlimited"):
    dram = {"bandwidth_bytes_per_cycle": bw} | ({"kind": kind} if kind else {})
    return accelsim.arch_from_dict({"clock_ghz": 1.0, "tech_node_nm": node, "units": units,
                                    "memory": {"dram": dram}})


def _recompute_dynamic_j(arch, res):
    """Sum over unit and memory actions of count x energies of the components that claim them."""
    node, total = arch.config.tech_node_nm, 0.0
    dram = build("dram", {"kind": arch.memories["dram"].config.kind}, node)
    for key, count in res.actions.items():
        uname, action = key.split(".", 1)
        if uname == "dram":  # the memory's actions: read_bits, write_bits
            total += count * dram.energy(action.split("_")[0] + "_bit") * 1e-12
            continue
        unit = arch.units[uname]
        if action in unit.informational_actions:
            continue
        comps = {c.name: c for c in unit.components()}
        for c in comps.values():
            for ua, la in c.actions.items():
                variant = None
                if ua.endswith("*"):
                    if not action.startswith(ua[:-1]):
                        continue
                    variant = action[len(ua) - 1:]
                elif ua != action:
                    continue
                params = dict(c.params)
                if "pitch_of" in params:
                    area = sum(build(comps[n].kind, comps[n].params, node).area_um2
                               for n in params.pop("pitch_of"))
                    params = {"length_mm": math.sqrt(area) * 1e-3}
                total += count * build(c.kind, params, node).energy(la, variant) * 1e-12
    return total


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_energy_is_actions_times_energy_per_action(df):
    arch = sa_arch(16, 16, df, pe="bf16", vector=True, bw=16, sram_kb=64)
    ops = [Gemm("g", m=100, n=70, k=300, dtype="bf16"),
           Vector("v", op="softmax", rows=100, cols=70)]
    res = accelsim.simulate(arch, Trace.from_ops("t", ops), "op")
    c = res.cost
    assert c.dynamic_j == pytest.approx(_recompute_dynamic_j(arch, res), rel=1e-12)
    assert res.per_op["energy_j"].sum() == pytest.approx(c.dynamic_j, rel=1e-12)
    assert sum(c.energy_by_component.values()) == pytest.approx(c.dynamic_j, rel=1e-12)
    ac = arch_cost(arch)
    leak_w = sum(pc.leak_w for u in ac.units.values() for pc in u.components)
    assert c.leakage_j == pytest.approx(leak_w * res.latency_s)
    assert c.energy_j == pytest.approx(c.dynamic_j + c.leakage_j)
    assert set(c.energy_by_component) >= {"sa.pe_mac", "sa.pe_regs", "sa.pe_links",
                                          "sa.ifmap_sram", "dram", "vec.alu", "vec.buffer"}


def test_systolic_actions_count_macs_forwarding_and_per_operand_sram():
    arch = sa_arch(8, 8, "ws", pe="int8", bw="unlimited")
    op = Gemm("g", m=20, n=8, k=8, dtype="int8")
    cost = arch.units["sa"].cost(op)
    a = cost.actions
    assert a["mac_int8"] == 20 * 8 * 8
    assert a["pe_forward_bits"] == 20 * 8 * 8 * (8 + 32)       # input + partial sum per MAC
    assert a["pe_shift_bits"] == 8 * (8 * 9 / 2) * 8            # one 8x8 weight preload
    assert a["ifmap_sram_read_bits"] == 20 * 8 * 8 and a["filter_sram_read_bits"] == 64 * 8
    sram_bits = sum(v for k, v in a.items() if "_sram_" in k)
    assert sram_bits == 8 * (cost.bytes["sram_read"] + cost.bytes["sram_write"])
    os_cost = sa_arch(8, 8, "os").units["sa"].cost(op)
    assert os_cost.actions["pe_forward_bits"] == 20 * 8 * 8 * (8 + 8 + 32)


def test_area_is_components_times_overhead_and_ignores_the_workload():
    small, big = sa_arch(16, 16), sa_arch(32, 32)
    r1 = accelsim.simulate(small, gemm_trace(64, 64, 64), "analytical")
    r2 = accelsim.simulate(small, gemm_trace(640, 64, 64), "analytical")
    assert r1.cost.area_mm2 == r2.cost.area_mm2
    c = r1.cost
    assert c.area_mm2 == pytest.approx(c.overhead * sum(c.area_by_component.values()))
    pe = c.area_by_component["sa.pe_mac"]
    assert accelsim.simulate(big, gemm_trace(64, 64, 64)).cost.area_by_component[
        "sa.pe_mac"] == pytest.approx(4 * pe)
    assert "dram" not in c.area_by_component


def test_node_and_dram_kind_move_energy_the_right_way():
    units = {"sa": {"type": "systolic_array", "rows": 32, "cols": 32, "pe_dtype": "int8"}}
    tr = gemm_trace(256, 256, 256)
    e = {(n, k): accelsim.simulate(_arch(units, n, k), tr).cost for n in (28, 7)
         for k in ("ddr3", "hbm3")}
    assert e[7, "hbm3"].energy_by_component["sa.pe_mac"] < e[28, "hbm3"].energy_by_component[
        "sa.pe_mac"]
    assert e[7, "hbm3"].area_mm2 < e[28, "hbm3"].area_mm2
    assert e[28, "hbm3"].energy_by_component["dram"] < e[28, "ddr3"].energy_by_component["dram"]
    assert e[28, "ddr3"].energy_by_component["dram"] == pytest.approx(
        e[7, "ddr3"].energy_by_component["dram"])  # off-chip energy does not scale with node


def test_summary_and_derived_metrics():
    arch = sa_arch(16, 16, "os", vector=True, bw=32)
    tr = Trace("t", (Segment("s", (Gemm("g", m=64, n=64, k=64, dtype="int8"),)),),
               meta=(("phase", "decode"), ("batch", "4")))
    res = accelsim.simulate(arch, tr, "tile")
    s, c = res.summary(), res.cost
    for k in ("energy_j", "energy_dynamic_j", "energy_leakage_j", "power_w", "area_mm2",
              "tops_per_w", "tops_per_mm2", "peak_tops", "edp_js", "energy_per_token_j",
              "energy", "area"):
        assert k in s, k
    assert s["power_w"] == pytest.approx(c.energy_j / res.latency_s)
    assert s["edp_js"] == pytest.approx(c.energy_j * res.latency_s)
    assert s["tops_per_w"] == pytest.approx(res.flops / c.energy_j / 1e12)
    assert s["tops_per_mm2"] == pytest.approx(res.flops / res.latency_s / 1e12 / c.area_mm2)
    assert s["energy_per_token_j"] == pytest.approx(c.energy_j / 4)
    assert s["peak_tops"] == pytest.approx(2 * 256 * 1e9 / 1e12)
    assert s["energy"]["leakage"] == pytest.approx(c.leakage_j)
    assert "integration_overhead" in s["area"]
    d = json.loads(json.dumps(res.to_dict()))
    assert d["cost"]["tech_node_nm"] == 28 and d["per_op"][0]["energy_j"] > 0
    assert "energy_per_token_j" not in accelsim.simulate(arch, gemm_trace(8, 8, 8)).summary()


def test_tokens_from_meta():
    assert tokens_of((("tokens", "32"),)) == 32
    assert tokens_of((("phase", "decode"), ("batch", "16"))) == 16
    assert tokens_of((("phase", "prefill"), ("batch", "2"), ("prompt", "128"))) == 256
    assert tokens_of((("phase", "prefill"),)) is None and tokens_of((("tokens", "x"),)) is None


def test_llm_example_is_deterministic_and_dram_bound():
    arch = accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml")
    tr = accelsim.load_trace(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
    a, b = (accelsim.simulate(accelsim.load_arch(ROOT / "configs" / "sa128_bf16_hbm.yaml"), tr)
            for _ in range(2))
    assert json.dumps(a.to_dict(), sort_keys=True) == json.dumps(b.to_dict(), sort_keys=True)
    c = a.cost
    assert c.energy_by_component["dram"] > 0.5 * c.energy_j  # decode at batch 16 streams weights
    assert arch.memories["dram"].config.kind == "hbm2e"


# -- units without a model, and errors ----------------------------------------------------------

class _ToyConfig(UnitConfig):
    type: Literal["toy_cost"] = "toy_cost"
    mode: str = Field("ok")


@register_unit("toy_cost")
class _Toy(Unit):
    """One-tile GEMM unit whose components/actions are chosen by ``mode``."""

    config_model = _ToyConfig
    categories = ("gemm",)

    def peak(self, dtypes=()) -> Peak:
        return Peak.of_macs(64)

    def _cost(self, op) -> OpCost:
        acts = {"mac_int8": float(op.macs())}
        if self.config.mode == "stray":
            acts["mystery"] = 1.0
        tiles = TileSchedule(compute=np.array([float(op.macs()) / 64]),
                             traffic=(Traffic("A", read=np.array([1.0])),
                                      Traffic("C", write=np.array([1.0]))))
        return OpCost(self.name, tiles, float(op.macs()), float(op.flops()), {}, acts,
                      self.peak())

    def components(self):
        if self.config.mode == "none":
            return None
        comp = [Component("mac", "mac", 64, {"dtype": "int8"}, {"mac_int8": "mac"})]
        if self.config.mode == "lacking":
            comp.append(Component("regs", "register", 64, {"bits": 8}, {"mac_int8": "read_bit"}))
        return comp


def test_unit_without_components_gives_unknown_not_zero():
    res = accelsim.simulate(_arch({"t": {"type": "toy_cost", "mode": "none"}}), gemm_trace(8, 8, 8))
    s = res.summary()
    assert s["energy_j"] is None and s["area_mm2"] is None and s["power_w"] is None
    assert math.isnan(res.per_op["energy_j"][0])
    assert res.cost.unmodelled == ("t",)
    json.dumps(res.to_dict())


def test_toy_unit_with_components_is_priced():
    res = accelsim.simulate(_arch({"t": {"type": "toy_cost"}}), gemm_trace(8, 8, 8))
    mac = build("mac", {"dtype": "int8"}, 28).energy("mac")
    dram = build("dram", {"kind": "hbm2"}, 28).energy("read_bit")  # = write_bit
    assert res.cost.dynamic_j == pytest.approx((512 * mac + 16 * dram) * 1e-12)  # 1 B in, 1 out


def test_undeclared_action_is_an_error_naming_unit_and_action():
    with pytest.raises(AccelsimError, match=r"unit 't' \(toy_cost\) reports action 'mystery', "
                                            r"which none of its components declares"):
        accelsim.simulate(_arch({"t": {"type": "toy_cost", "mode": "stray"}}), gemm_trace(8, 8, 8))


def test_action_the_library_lacks_names_component_action_and_node():
    with pytest.raises(AccelsimError, match=r"no energy for action 'read_bit' of component "
                                            r"'t.regs' \(kind register\) at 7 nm.*has: write_bit"):
        accelsim.simulate(_arch({"t": {"type": "toy_cost", "mode": "lacking"}}, node=7),
                          gemm_trace(8, 8, 8))


def test_config_errors_for_node_and_dram_kind():
    units = {"sa": {"type": "systolic_array", "rows": 4, "cols": 4}}
    with pytest.raises(ConfigError, match=r"tech_node_nm: .*unsupported technology node 12 nm; "
                                          r"supported nodes: 45, 40, 32, 28"):
        _arch(units, node=12)
    with pytest.raises(ConfigError, match=r"memory\.dram\.kind: .*unknown DRAM kind 'hmb3'; did "
                                          r"you mean 'hbm3'\?"):
        _arch(units, kind="hmb3")
    assert _arch(units).memories["dram"].config.kind == "hbm2"  # the documented default
