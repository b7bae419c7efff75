"""Component models: (kind, params, node) -> energy per action, area and leakage per instance.

A unit declares its hardware as ``arch.base.Component`` records (kind + params); this module
turns each into a :class:`Model`. Kinds and their params (all sizes per instance):

=============  ==========================================  ==================================
kind           params                                      actions (energy per action, pJ)
=============  ==========================================  ==================================
mac            dtype, acc (default int32 / fp32),          mac
               energy_kind (a cited library MAC), in_die
multiplier     dtype                                       mul
adder          dtype                                       add
shift_add      bits, max_shift                             op (add + barrel shift)
register       bits                                        write_bit
mux            inputs, width_bits                          select (one selection, all bits)
lut            entries, width_bits                         read (one lookup), write_entry
vector_alu     hw_dtype (default fp32)                     flop:<dtype> (variant = op dtype)
wire           length_mm                                   bit (one bit over the length)
sram           capacity_bytes, width_bits=64, banks=1      read_bit, write_bit
dram           kind                                        read_bit, write_bit[, activate,
                                                           activate_bit]
=============  ==========================================  ==================================

Arithmetic comes from ``arith`` (Horowitz 45 nm), registers from Aladdin (40 nm), SRAM/DRAM
from ``memory``; everything is scaled to the node with ``scaling``. A 2:1 mux bit costs the
energy and area of one full-adder bit (the 32-bit adder's per-bit average) times the transistor
ratio 12/28 (``gate_count`` rows). Logic leakage = area x the leakage density of Aladdin's
32-bit adder and multiplier (40 nm), scaled. Wires and DRAM have no area or leakage here.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from ..errors import AccelsimError
from ..registry import Registry
from ..workload.dtypes import dtype
from . import arith, memory, scaling, techlib

ARITH_NODE = 45.0      # Horowitz
REGISTER_NODE = 40.0   # Aladdin


@dataclass
class Model:
    """Costs of one instance of a component at one node."""

    kind: str
    node_nm: float
    area_um2: float
    leak_w: float
    energies: dict[str, float]
    #: energy of an action with a variant (e.g. vector_alu's flop:<dtype>), or None
    variant: Callable[[str, str], float] | None = None
    formula: str = ""
    _memo: dict[tuple[str, str | None], float] = field(default_factory=dict, repr=False)

    def actions(self) -> list[str]:
        names = sorted(self.energies)
        return names + (["<action>:<variant>"] if self.variant else [])

    def energy(self, action: str, variant: str | None = None) -> float:
        """pJ per ``action`` (KeyError when the model has no such action)."""
        key = (action, variant)
        hit = self._memo.get(key)
        if hit is None:
            if variant is None:
                hit = self.energies[action]
            elif self.variant is not None:
                hit = self.variant(action, variant)
            else:
                raise KeyError(action)
            self._memo[key] = hit
        return hit


def _e(x45: float, node: float) -> float:
    return x45 * scaling.energy_factor(ARITH_NODE, node)


def _a(x45: float, node: float) -> float:
    return x45 * scaling.area_factor(ARITH_NODE, node)


def logic_leak_w_per_um2(node: float) -> float:
    """Leakage density of logic: Aladdin's int32 adder + multiplier (40 nm), scaled."""
    return _logic_leak_ref() * scaling.leakage_factor(REGISTER_NODE, node) \
        / scaling.area_factor(REGISTER_NODE, node)


@lru_cache(maxsize=1)
def _logic_leak_ref() -> float:
    """W per um^2 of the reference cells at their own node: library rows, read once (the
    library is fixed for the process, ``techlib.entries``)."""
    refs = techlib.find("logic_leakage_ref", "leakage")
    leak = sum(e.value for e in refs) * 1e-6
    area = sum(techlib.get("logic_leakage_ref", "area", part=e.param("part")).value for e in refs)
    return leak / area


def mux2_bit(node: float, what: str = "energy") -> float:
    """One 2:1 mux bit: a full-adder bit (32-bit adder average) x 12/28 transistors."""
    ratio = (techlib.get("gate_count", "transistors", cell="mux2").value
             / techlib.get("gate_count", "transistors", cell="full_adder").value)
    fa = arith.int_add(32, what) / 32.0
    return (_e if what == "energy" else _a)(fa * ratio, node)


def _logic(kind: str, node: float, e45: dict[str, float], a45: float, formula: str) -> Model:
    area = _a(a45, node)
    return Model(kind, node, area, area * logic_leak_w_per_um2(node),
                 {k: _e(v, node) for k, v in e45.items()}, formula=formula)


def mac_kinds() -> tuple[str, ...]:
    """Cited library MACs (``mac,mac,kind=...`` rows): valid ``energy_kind`` values."""
    return tuple(sorted(e.param("kind") for e in techlib.find("mac", "mac")))


def check_mac_kind(kind: str) -> str:
    """``kind`` if the library has a cited MAC of that kind, else an AccelsimError listing them."""
    if kind not in mac_kinds():
        raise AccelsimError(f"unknown MAC energy kind {kind!r}; the technology library has: "
                            f"{', '.join(mac_kinds()) or 'none'}")
    return kind


def _mac(p: dict, node: float) -> Model:
    """mul(dtype) + add(acc) from ``arith``; with ``energy_kind`` the energy per MAC is the
    library's cited ``mac,mac,kind=<energy_kind>`` row instead (e.g. a paper's synthesised MAC);
    ``in_die: true`` marks MACs inside a datasheet die (``die`` component) that already holds
    their area: no area or leakage of their own."""
    pe, acc = p["dtype"], p.get("acc")
    formula = f"mul({pe}) + add({acc or arith.DEFAULT_ACC[dtype(pe).kind]})"
    m = _logic("mac", node, {"mac": arith.mac(pe, acc)}, arith.mac(pe, acc, "area"), formula)
    kind = p.get("energy_kind")
    if kind is not None:
        row = techlib.get("mac", "mac", kind=check_mac_kind(kind))
        m.energies["mac"] = row.at(node)
        # one FLOP is half a MAC: the Duplex authors price every FLOP at kMAC / 2 (power.h
        # line 35, charged per FLOP in module_graph.cpp line 272); units charge element-wise
        # FLOPs on these MACs' datapath with the ``flop`` action (the GPU's energy.vector_flops)
        m.energies["flop"] = row.at(node) / 2.0
        m.formula = f"{row.value:g} {row.unit} per MAC at {row.node_nm:g} nm (library kind {kind})"
    if str(p.get("in_die", "")).lower() in ("true", "1", "yes"):
        m.area_um2, m.leak_w = 0.0, 0.0
        m.formula += "; area and leakage inside the datasheet die"
    return m


def _one_op(op: str) -> Callable[[dict, float], Model]:
    def build(p: dict, node: float) -> Model:
        d = dtype(p["dtype"])
        return _logic("adder" if op == "add" else "multiplier", node,
                      {op: arith.op_cost(op, d)}, arith.op_cost(op, d, "area"), f"{op}({d.name})")
    return build


def _shift_add(p: dict, node: float) -> Model:
    bits, stages = float(p["bits"]), math.ceil(math.log2(int(p["max_shift"]) + 1))
    m = _logic("shift_add", node, {"op": arith.int_add(bits)}, arith.int_add(bits, "area"),
               f"add({bits:g}b) + {stages}-stage barrel shift")
    m.energies["op"] += bits * stages * mux2_bit(node)
    m.area_um2 += bits * stages * mux2_bit(node, "area")
    m.leak_w = m.area_um2 * logic_leak_w_per_um2(node)
    return m


def _register(p: dict, node: float) -> Model:
    bits = float(p["bits"])
    e = techlib.get("register", "write_bit")
    area = bits * techlib.get("register", "area_bit").at(node)
    return Model("register", node, area, area * logic_leak_w_per_um2(node),
                 {"write_bit": e.at(node)}, formula=f"{bits:g} flip-flop bits (Aladdin)")


def _mux(p: dict, node: float) -> Model:
    n, w = int(p["inputs"]), float(p["width_bits"])
    levels = math.ceil(math.log2(max(n, 2)))
    area = w * (n - 1) * mux2_bit(node, "area")
    return Model("mux", node, area, area * logic_leak_w_per_um2(node),
                 {"select": w * levels * mux2_bit(node)},
                 formula=f"{w:g} bits x {n - 1} mux2 (area), {levels} on the active path (energy)")


def _lut(p: dict, node: float) -> Model:
    n, w = int(p["entries"]), float(p["width_bits"])
    reg = _register({"bits": n * w}, node)
    mux = _mux({"inputs": n, "width_bits": w}, node)
    area = reg.area_um2 + mux.area_um2
    return Model("lut", node, area, area * logic_leak_w_per_um2(node),
                 {"read": mux.energies["select"], "write_entry": w * reg.energies["write_bit"]},
                 formula=f"{n} x {w:g}-bit register table + {n}:1 mux tree")


def _vector_alu(p: dict, node: float) -> Model:
    hw = dtype(p.get("hw_dtype", "fp32"))
    a45 = 0.5 * (arith.op_cost("mul", hw, "area") + arith.op_cost("add", hw, "area"))

    def flop(action: str, variant: str) -> float:
        if action != "flop":
            raise KeyError(action)
        d = dtype(variant)
        return _e(0.5 * (arith.op_cost("mul", d) + arith.op_cost("add", d)), node)

    area = _a(a45, node)
    return Model("vector_alu", node, area, area * logic_leak_w_per_um2(node), {}, variant=flop,
                 formula=f"one FLOP = (mul + add) / 2 in the op's dtype; area of {hw.name}")


def _wire(p: dict, node: float) -> Model:
    length = float(p["length_mm"])
    return Model("wire", node, 0.0, 0.0,
                 {"bit": length * memory.wire_pj_per_bit_mm(node)},
                 formula=f"{length:.4g} mm x activity x C x VDD^2")


def _sram(p: dict, node: float) -> Model:
    c = memory.sram_costs(float(p["capacity_bytes"]), float(p.get("width_bits", 64)),
                          int(p.get("banks", 1)), node)
    return Model("sram", node, c["area_um2"], c["leak_w"],
                 {"read_bit": c["read_bit"], "write_bit": c["write_bit"]},
                 formula="CACTI-fit E64(sub-array)/64 per bit (+ global wire)")


def _dram(p: dict, node: float) -> Model:
    return Model("dram", node, 0.0, 0.0, memory.dram_costs(p["kind"]),
                 formula="interface energy per bit (off chip: no area, no leakage)")


def _die(p: dict, node: float) -> Model:
    """A whole die as built (a datasheet area at its own node): not node-scaled, no leakage
    model, and outside the integration overhead (``estimator``)."""
    return Model("die", node, float(p["area_mm2"]) * 1e6, 0.0, {},
                 formula="datasheet die area (already integrated)")


#: component kinds by name: builder(params, node) -> Model (``accelsim list component``)
KINDS: Registry[Callable[[dict, float], Model]] = Registry(
    "component", doc="energy/area component models (Component.kind)")
for _name, _fn, _params, _doc in (
        ("mac", _mac, "dtype, acc, energy_kind, in_die",
         "multiply-accumulate: mul(dtype) + add(acc), or a cited library MAC (energy_kind)"),
        ("multiplier", _one_op("mul"), "dtype", "multiplier of dtype"),
        ("adder", _one_op("add"), "dtype", "adder of dtype"),
        ("shift_add", _shift_add, "bits, max_shift", "adder + barrel shifter"),
        ("register", _register, "bits", "flip-flop bits (Aladdin)"),
        ("mux", _mux, "inputs, width_bits", "mux tree of 2:1 cells"),
        ("lut", _lut, "entries, width_bits", "register table + mux tree"),
        ("vector_alu", _vector_alu, "hw_dtype", "one FLOP slot, (mul + add) / 2"),
        ("wire", _wire, "length_mm", "alpha C V^2 per bit and mm"),
        ("sram", _sram, "capacity_bytes, width_bits, banks", "CACTI-fitted SRAM"),
        ("dram", _dram, "kind", "off-chip DRAM energy per bit by kind"),
        ("die", _die, "area_mm2", "a whole die's datasheet area (no energy model)")):
    KINDS.add(_name, _fn, doc=_doc, keys=[{"key": k.strip(), "type": "", "default": "",
                                            "description": ""} for k in _params.split(",")])


def build(kind: str, params: dict[str, Any], node_nm: float) -> Model:
    """The model of a component kind at a node; bad kinds or params raise AccelsimError."""
    node = scaling.check_node(node_nm)
    if kind not in KINDS:
        raise AccelsimError(f"unknown component kind {kind!r}; the technology library models: "
                            f"{', '.join(sorted(KINDS))}")
    fn = KINDS.get(kind)
    try:
        return fn(dict(params), node)
    except KeyError as e:
        raise AccelsimError(f"component kind {kind!r} needs parameter {e.args[0]!r} "
                            f"(got {', '.join(params) or 'none'})") from None
