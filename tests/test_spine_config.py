"""The engine spine from the config side: typed memories, policies, pins, target lowering,
capacity and ``accelsim list``; new memory kinds, policies and units proven with toys."""
from __future__ import annotations

import json
import math
from typing import Literal

import numpy as np
import pytest
from pydantic import Field

import accelsim
from accelsim import AccelsimError, ConfigError
from accelsim.arch import OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig, register_unit
from accelsim.cli import main
from accelsim.engine.policies import POLICIES, Policy, PolicyConfig
from accelsim.memory import Memory, MemoryConfig, register_memory
from accelsim.registry import INTERFACES, registry
from accelsim.workload.ops import Attention, Gemm, Vector
from accelsim.workload.zoo import build_trace

from conftest import ROOT, gemm_trace, sa_arch

# --------------------------------------------------------------------------- toys

class FixedConfig(MemoryConfig):
    type: Literal["toy_fixed"] = "toy_fixed"
    rate: float = Field(gt=0, description="bytes per device cycle")


@register_memory("toy_fixed")
class FixedMemory(Memory):
    """Off-chip memory moving ``rate`` bytes per device cycle."""

    config_model = FixedConfig

    @property
    def bytes_per_tick(self) -> float:
        return self.config.rate


class SerialConfig(PolicyConfig):
    type: Literal["toy_serial"] = "toy_serial"


@POLICIES.register("toy_serial")
class Serial(Policy):
    """Nothing overlaps: an op starts only while every unit is idle."""

    config_model = SerialConfig

    def may_start(self, i, state) -> bool:
        return all(state.idle(u) for u in state.running)


class FusedConfig(UnitConfig):
    type: Literal["toy_fused_attn"] = "toy_fused_attn"


@register_unit("toy_fused_attn")
class FusedAttn(Unit):
    """Runs GEMMs at 64 MACs per cycle; lowers attention to one fused GEMM of its own."""

    config_model = FusedConfig
    categories = ("gemm",)

    def peak(self, dtypes=()) -> Peak:
        return Peak.of_macs(64)

    def lower(self, op):
        if not isinstance(op, Attention):
            return None
        return [Gemm(f"{op.name}.fused", m=op.q_len * op.heads, n=op.head_dim, k=op.kv_len,
                     batch=op.batch, dtype=op.dtype, deps=op.deps,
                     tags=op.tags + (("unit", self.name),))]

    def _cost(self, op) -> OpCost:
        b = op.operand_bytes()
        tiles = TileSchedule(compute=np.array([float(math.ceil(op.macs() / 64))]),
                             traffic=(Traffic("A", read=np.array([b["A"]])),
                                      Traffic("B", read=np.array([b["B"]])),
                                      Traffic("C", write=np.array([b["C"]]))))
        return OpCost(unit=self.name, tiles=tiles, macs=op.macs(), flops=op.flops(), bytes={},
                      actions={}, peak=self.peak())


# --------------------------------------------------------------------------- helpers

SA = {"type": "systolic_array", "rows": 16, "cols": 16, "dataflow": "ws", "pe_dtype": "bf16",
      "sram": {"ifmap_kb": 16, "filter_kb": 16, "ofmap_kb": 16}}
VEC = {"type": "vector", "lanes": 16}


def device(units=None, memory=None, **top):
    d = {"name": "t", "clock_ghz": 1.0, "tech_node_nm": 28,
         "units": units or {"sa": dict(SA), "vec": dict(VEC)},
         "memory": memory or {"dram": {"bandwidth_gb_s": 8}}}
    d.update(top)
    return accelsim.arch_from_dict(d, name="x.yaml")


def config_error(**kw) -> ConfigError:
    with pytest.raises(ConfigError) as exc:
        device(**kw)
    return exc.value


def rows(res):
    return res.per_op.set_index("op")


# --------------------------------------------------------------------------- 1. old configs

def test_untyped_memory_is_bandwidth_and_times_identically():
    """A memory without ``type`` resolves to ``type: bandwidth`` and gives the same cycles, bit
    for bit, as the typed spelling, at every fidelity (and bandwidth does matter here)."""
    old = device(memory={"dram": {"bandwidth_gb_s": 512}})
    new = device(memory={"dram": {"type": "bandwidth", "bandwidth_gb_s": 512}})
    free = device(memory={"dram": {"bandwidth_bytes_per_cycle": "unlimited"}})
    assert old.resolved()["memory"]["dram"]["type"] == "bandwidth"
    assert old.resolved() == new.resolved() and old.config_hash() == new.config_hash()
    assert old.memories["dram"].bytes_per_tick == 512.0 and old.main_memory == "dram"
    tr = gemm_trace(128, 256, 64, dtype="bf16")
    for f in accelsim.FIDELITIES:
        a, b = accelsim.simulate(old, tr, f), accelsim.simulate(new, tr, f)
        assert a.cycles == b.cycles, f
        assert a.cycles > accelsim.simulate(free, tr, f).cycles, f


# --------------------------------------------------------------------------- 2. config errors

BUF = {"type": "buffer", "capacity_kb": 64}


@pytest.mark.parametrize("kw, key, start", [
    ({"memory": {"dram": {"bandwidth_gb_s": 8}, "gbuf": {"type": "bufer", "capacity_kb": 64}}},
     "memory.gbuf.type", "unknown memory type 'bufer'; did you mean 'buffer'?"),
    ({"memory": {"dram": {"bandwidth_gb_s": 8, "capacty_gb": 4}}},
     "memory.dram.capacty_gb", "unknown key 'capacty_gb'; did you mean 'capacity_gb'?"),
    ({"memory": {"dram": {"bandwidth_gb_s": 8}, "gbuf": BUF},
      "units": {"sa": SA, "vec": dict(VEC, memory="gbuff")}},
     "units.vec.memory", "no memory 'gbuff'; memories: dram, gbuf"),
    ({"memory": {"gbuf": BUF}},
     "memory", "needs at least one off-chip memory"),
    ({"scheduling": {"type": "gredy"}},
     "scheduling.type", "unknown policy type 'gredy'; did you mean 'greedy'?"),
    ({"scheduling": {"type": "greedy", "redispach": False}},
     "scheduling.redispach", "unknown key 'redispach'; did you mean 'redispatch'?"),
    ({"mapping": {"pins": {"*.softmax": "vecc"}}},
     "mapping.pins.*.softmax", "no unit 'vecc'; units: sa, vec"),
    ({"mapping": {"fusion": {"buffer_edge": True}}},
     "mapping.fusion.buffer_edge", "unknown pass type 'buffer_edge'; did you mean 'buffer_edges'?"),
])
def test_config_error_names_key_path(kw, key, start):
    """Each bad memory, scheduling or mapping entry is one ConfigError naming its key path."""
    err = config_error(**kw)
    assert len(err.problems) == 1
    assert err.problems[0].key_path == key
    assert str(err).startswith(f"x.yaml {key}: {start}")


def test_several_problems_reported_together():
    """Problems in different sections come back in one error, one line each."""
    err = config_error(memory={"dram": {"type": "bandwidth", "bandwidth_gb_s": 8, "kindd": "x"},
                               "gbuf": {"type": "bufer"}},
                       scheduling={"type": "greedy", "redispach": 1})
    assert [p.key_path for p in err.problems] == ["memory.dram.kindd", "memory.gbuf.type",
                                                  "scheduling.redispach"]
    assert str(err) == "\n".join(map(str, err.problems))
    refs = config_error(units={"sa": SA, "vec": dict(VEC, memory="nope")},
                        mapping={"pins": {"a*": "zz"}, "fusion": {"nope": True}})
    assert [p.key_path for p in refs.problems] == ["units.vec.memory", "mapping.pins.a*",
                                                   "mapping.fusion.nope"]


def test_reference_problems_reported_with_schema_problems():
    """A pin to a unit that does not exist is reported along with a typo in a memory."""
    err = config_error(memory={"dram": {"bandwidth_gb_s": 8, "capacty_gb": 4}},
                       mapping={"pins": {"a*": "zz"}})
    assert [p.key_path for p in err.problems] == ["memory.dram.capacty_gb", "mapping.pins.a*"]


@pytest.mark.parametrize("kw, key", [
    ({"memory": {"dram": {"type": ["bandwidth"], "bandwidth_gb_s": 8}}}, "memory.dram.type"),
    ({"units": {"sa": dict(SA, type=["systolic_array"])}}, "units.sa.type"),
    ({"scheduling": {"type": ["greedy"]}}, "scheduling.type"),
])
def test_non_string_type_is_a_config_error(kw, key):
    """A YAML list given as ``type:`` is a located ConfigError, not a crash."""
    assert config_error(**kw).problems[0].key_path == key


# --------------------------------------------------------------------------- 3. a new memory

def test_registered_memory_kind_sets_memory_bound_time():
    """A toy memory of ``rate`` bytes/cycle: a one-tile bf16 copy of E elements on a 16-lane
    vector unit takes 2E/rate (read) + ceil(E/16) + 8 (pipeline) + 2E/rate (write) cycles;
    a unit's ``memory:`` picks which memory it streams through."""
    dev = device(units={"vec": dict(VEC)},
                 memory={"dram": {"type": "toy_fixed", "rate": 4},
                         "fast": {"type": "toy_fixed", "rate": 16}})
    assert isinstance(dev.memories["dram"], FixedMemory) and dev.main_memory == "dram"
    assert dev.resolved()["memory"]["dram"] == {"type": "toy_fixed", "clock_ghz": None,
                                               "rate": 4.0}
    tr = accelsim.Trace.from_ops("c", [Vector("c", op="copy", rows=1, cols=1024)])
    on_fast = device(units={"vec": dict(VEC, memory="fast")},
                     memory={"dram": {"type": "toy_fixed", "rate": 4},
                             "fast": {"type": "toy_fixed", "rate": 16}})
    assert on_fast.unit_memory("vec") == "fast"
    for f in accelsim.FIDELITIES:
        assert accelsim.simulate(dev, tr, f).cycles == 512 + 64 + 8 + 512, f
        assert accelsim.simulate(on_fast, tr, f).cycles == 128 + 64 + 8 + 128, f


# --------------------------------------------------------------------------- 4. a new policy

def _parallel():
    return accelsim.load_trace(ROOT / "workloads" / "examples" / "two_units_parallel.yaml")


def _with_policy(dev, policy):
    d = dev.config.model_dump(mode="json")
    d["units"] = {n: c.model_dump(mode="json") for n, c in dev.unit_configs.items()}
    d["scheduling"] = {"type": policy}
    return accelsim.arch_from_dict(d, name="x.yaml")


def test_registered_policy_gates_overlap_at_every_fidelity():
    """Under a policy whose ``may_start`` refuses while any unit is busy, the two independent
    GEMMs run one after the other on the two arrays; under greedy they start together."""
    base = sa_arch(32, 32, "os", overlap=True, pe="bf16", vector=True, n_arrays=2)
    serial = _with_policy(base, "toy_serial")
    assert serial.resolved()["scheduling"] == {"type": "toy_serial"}
    for f in accelsim.FIDELITIES:
        s, g = rows(accelsim.simulate(serial, _parallel(), f)), rows(
            accelsim.simulate(base, _parallel(), f))
        first, second = sorted(("left", "right"), key=lambda n: s.loc[n].start)
        assert s.loc[first].start == 0 and s.loc[second].start == s.loc[first].end, f
        assert s.loc["join"].start == s.loc[second].end, f
        assert g.loc["left"].start == g.loc["right"].start == 0, f
        assert {g.loc["left"].unit, g.loc["right"].unit} == {"sa0", "sa1"}, f


# --------------------------------------------------------------------------- 5. list_order

def test_list_order_keeps_trace_order_greedy_takes_ready_first():
    """A (long, sa); C (vec, after A); B (vec, independent), listed A, C, B: list_order starts
    C before B on vec, greedy starts B first; the order is the same at every fidelity."""
    tr = accelsim.Trace.from_ops("abc", [
        Gemm("A", m=256, n=256, k=256, deps=()),
        Vector("C", op="relu", rows=256, cols=256, deps=("A",)),
        Vector("B", op="relu", rows=64, cols=64, deps=())])
    for policy, order in (("list_order", ["A", "C", "B"]), ("greedy", ["B", "A", "C"])):
        dev = device(scheduling={"type": policy})
        for f in accelsim.FIDELITIES:
            r = rows(accelsim.simulate(dev, tr, f))
            assert list(r.sort_values(["start", "end"]).index) == order, (policy, f)
            assert r.loc["C"].start == r.loc["A"].end, (policy, f)
            if policy == "list_order":
                assert r.loc["B"].start == r.loc["C"].end, f
            else:
                assert r.loc["B"].start == 0, f


# --------------------------------------------------------------------------- 6. pins

def test_glob_pin_moves_op_and_beats_unit_tag():
    """``mapping.pins`` sends matching ops to the pinned array even against their unit tag."""
    tr = accelsim.Trace.from_ops("p", [
        Gemm("left", m=64, n=64, k=64, deps=(), tags=(("unit", "sa0"),)),
        Gemm("right", m=64, n=64, k=64, deps=())])
    two = {"sa0": dict(SA), "sa1": dict(SA)}
    tagged = rows(accelsim.simulate(device(units=two), tr))
    assert (tagged.loc["left"].unit, tagged.loc["right"].unit) == ("sa0", "sa1")
    swap = device(units=two, mapping={"pins": {"l*": "sa1", "r?gh*": "sa0"}})
    for f in accelsim.FIDELITIES:
        pinned = rows(accelsim.simulate(swap, tr, f))
        assert (pinned.loc["left"].unit, pinned.loc["right"].unit) == ("sa1", "sa0"), f


def test_pin_to_rejecting_unit_and_no_unit_errors_carry_reasons():
    """A pin to a unit that cannot run the op fails with that unit's reason; an op no unit runs
    lists every unit's reason."""
    int8 = {"sa": dict(SA, pe_dtype="int8"), "vec": dict(VEC)}
    tr = gemm_trace(32, 32, 32, dtype="bf16")
    dtype_reason = ("operand dtype A=bf16, B=bf16 is not exact on int8 PEs (pe_dtype); use a "
                    "unit with a wider pe_dtype or quantise the op")
    vec_reason = "runs vector ops, not gemm (op kind gemm)"
    with pytest.raises(AccelsimError) as exc:
        accelsim.simulate(device(units=int8, mapping={"pins": {"g": "vec"}}), tr)
    assert str(exc.value) == f"op 'g' is pinned to unit 'vec', which cannot run it: {vec_reason}"
    with pytest.raises(AccelsimError) as exc:
        accelsim.simulate(device(units=int8, mapping={"pins": {"*": "sa"}}), tr)
    assert str(exc.value) == f"op 'g' is pinned to unit 'sa', which cannot run it: {dtype_reason}"
    with pytest.raises(AccelsimError) as exc:
        accelsim.simulate(device(units=int8), tr)
    assert str(exc.value) == (f"no unit of device 't' can run op 'g' (kind gemm): unit 'sa' "
                              f"cannot run op 'g': {dtype_reason}; unit 'vec' cannot run op "
                              f"'g': {vec_reason}")


# --------------------------------------------------------------------------- 7. target lowering

def test_unit_lowering_replaces_default_attention_lowering():
    """With the toy unit in the device, attention becomes its one fused op (run on it);
    without it, attention lowers to qk, softmax, pv."""
    tr = accelsim.Trace.from_ops("a", [
        Gemm("proj", m=16, n=64, k=64),
        Attention("attn", batch=2, heads=4, q_len=16, kv_len=32, head_dim=16),
        Vector("res", op="add", rows=16, cols=64)])
    plain = accelsim.simulate(device(), tr)
    assert list(plain.per_op["op"]) == ["proj", "attn.qk", "attn.softmax", "attn.pv", "res"]
    fused = accelsim.simulate(device(units={"sa": SA, "vec": VEC,
                                            "fa": {"type": "toy_fused_attn"}}), tr)
    assert list(fused.per_op["op"]) == ["proj", "attn.fused", "res"]
    assert rows(fused).loc["attn.fused"].unit == "fa"


# --------------------------------------------------------------------------- 8. capacity

def _resident(trace) -> dict:
    """Weights (B of shared-B GEMMs, bf16) and KV cache (K and V of attention), times repeat."""
    out = {"weights": 0, "kv_cache": 0}
    for seg in trace.segments:
        for op in seg.ops:
            if isinstance(op, Gemm) and (op.b_shared or op.batch == 1):
                out["weights"] += seg.repeat * op.k * op.n * 2
            elif isinstance(op, Attention):
                out["kv_cache"] += seg.repeat * 2 * op.batch * op.n_kv * op.kv_len * op.head_dim * 2
    return out


def test_capacity_check_on_llama_decode():
    """LLaMA-2-7B decode (b16, ctx 2048) does not fit 8 GB (reported, still simulated) and fits
    40 GB; resident bytes are weights + KV cache."""
    tr = build_trace("llama2-7b", phase="decode", batch=16, ctx=2048)
    cfg = ROOT / "configs" / "sa128_bf16_hbm.yaml"
    small = accelsim.simulate(accelsim.load_arch(cfg, overrides=["memory.dram.capacity_gb=8"]),
                              tr, "analytical")
    big = accelsim.simulate(accelsim.load_arch(cfg, overrides=["memory.dram.capacity_gb=40"]),
                            tr, "analytical")
    parts = _resident(tr)
    assert parts == {"weights": 4096 * (12288 + 4096 + 22016 + 11008) * 2 * 32 + 4096 * 32000 * 2,
                     "kv_cache": 32 * 2 * 16 * 32 * 2048 * 128 * 2}
    resident = sum(parts.values())
    assert small.capacity.resident == big.capacity.resident == parts
    assert not small.fits_memory and small.summary()["fits_memory"] is False
    assert small.cycles > 0 and small.cycles == big.cycles
    assert small.infeasible == ["memory 'dram' holds 13.2 GB of weights + 17.2 GB of kv cache = "
                                "30.4 GB, more than its capacity of 8 GB"]
    assert big.fits_memory and big.infeasible == [] and big.summary()["fits_memory"] is True
    assert small.summary()["resident_bytes"] == big.summary()["resident_bytes"] == resident
    assert big.capacity.capacity_bytes == 40e9


# --------------------------------------------------------------------------- 9. accelsim list

def _tables(out: str) -> dict[str, list[str]]:
    """Table title's interface -> the names in its first column."""
    tables: dict[str, list[str]] = {}
    for line in out.splitlines():
        if line and line[0].isalpha():
            current = tables.setdefault(line.split(":")[0], [])
        elif line.startswith("\u2502"):
            name = line.split("\u2502")[1].strip()
            if name:
                current.append(name)
    return tables


def test_list_shows_every_interface_and_name(capsys):
    """``accelsim list`` has a table per interface listing exactly its registered names."""
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    tables = _tables(out)
    assert list(tables) == list(INTERFACES) == ["unit", "memory", "policy", "fidelity", "pass",
                                                "component", "op"]
    for iface, names in tables.items():
        assert names == registry(iface).names(), iface
        assert f"{iface}: {registry(iface).doc}" in out
    assert {"systolic_array", "vector", "toy_fused_attn"} <= set(tables["unit"])
    assert {"bandwidth", "buffer", "toy_fixed"} <= set(tables["memory"])
    assert {"greedy", "list_order", "toy_serial"} <= set(tables["policy"])
    assert tables["fidelity"] == list(accelsim.FIDELITIES) == ["analytical", "op", "tile"]
    assert set(tables["pass"]) == {"buffer_edges", "grouped_experts", "target_lowering",
                                   "lut_precompute", "lut_precompute_fusion",
                                   "pim_channel_balance"}
    assert {"mac", "sram", "dram"} <= set(tables["component"])
    assert tables["op"] == ["gemm", "grouped_gemm", "vector", "attention", "flash_attention",
                            "lut_tables", "collective"]


def test_list_json_has_config_keys(capsys):
    """``--json`` parses, and ``memory``/``bandwidth`` lists its keys with defaults."""
    assert main(["list", "memory", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["memory"]
    by_name = {d["name"]: d for d in data["memory"]}
    assert {"bandwidth", "buffer", "toy_fixed"} <= set(by_name)
    keys = {k["key"]: k for k in by_name["bandwidth"]["keys"]}
    assert {"bandwidth_gb_s", "bandwidth_bytes_per_cycle", "capacity_gb", "kind",
            "clock_ghz", "sustained_fraction"} == set(keys)
    assert keys["kind"]["default"] == "hbm2" and keys["bandwidth_gb_s"]["default"] is None
    assert [k["key"] for k in by_name["toy_fixed"]["keys"]] == ["clock_ghz", "rate"]
    assert {k["key"]: k["default"] for k in by_name["toy_fixed"]["keys"]}["rate"] == "required"


def test_list_unknown_interface_is_one_line_error(capsys):
    """An unknown interface exits 2 with one ``error:`` line (and a suggestion)."""
    assert main(["list", "memroy"]) == 2
    cap = capsys.readouterr()
    assert cap.out == ""
    assert cap.err.count("\n") == 1 and cap.err.startswith("error: unknown interface 'memroy'")
    assert "did you mean 'memory'?" in cap.err
