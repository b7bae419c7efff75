"""Technology-node scaling of energy, area and leakage (Stillmaker and Baas 2017, plus 5 nm).

Source: A. Stillmaker and B. Baas, "Scaling equations for the accurate prediction of CMOS
device performance from 180 nm to 7 nm", Integration 58 (2017) 74-81. We use

* area: their node-to-node area factors, as the row "from 45 nm" (``data/stillmaker.csv``);
* energy: their high-performance (HP) fits ``E(node, V) = a*V^2 + b*V + c`` evaluated at each
  node's nominal VDD; the factor from node x to node y is ``E(y, Vy) / E(x, Vx)``.

Their table covers 45, 32, 20, 16, 14, 10 and 7 nm. Nodes in between (40, 28, 22 nm) are
interpolated log-log in the node size (``ln f`` linear in ``ln node``) between the two table
neighbours. 5 nm extends 7 nm by TSMC's published N5-vs-N7 factors (``data/node_extensions.csv``).
Leakage power per device is scaled like energy (the convention hwcomponents uses; an assumption,
see docs/energy_area.md). Everything here is a pure function of the two CSV files.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import AccelsimError

DATA = Path(__file__).resolve().parent / "data"

#: nodes a design may use (tech_node_nm); anything else is an error listing these
SUPPORTED_NODES: tuple[float, ...] = (45.0, 40.0, 32.0, 28.0, 22.0, 20.0, 16.0, 14.0, 10.0,
                                      7.0, 5.0)


@dataclass(frozen=True)
class NodeFactors:
    """Absolute factors of one node, relative to 45 nm: area, energy (at nominal VDD), VDD."""

    node_nm: float
    area: float
    energy: float
    vdd: float
    how: str


@lru_cache(maxsize=1)
def _table() -> dict[float, NodeFactors]:
    """Factors of every supported node, built from the CSV files (memoised)."""
    rows: dict[float, NodeFactors] = {}
    with open(DATA / "stillmaker.csv", newline="") as f:
        raw = list(csv.DictReader(f))
    ref = next(r for r in raw if float(r["node_nm"]) == 45.0)

    def e_at(r: dict) -> float:
        v = float(r["vdd"])
        return float(r["energy_a"]) * v * v + float(r["energy_b"]) * v + float(r["energy_c"])

    e45 = e_at(ref)
    for r in raw:
        n = float(r["node_nm"])
        rows[n] = NodeFactors(n, float(r["area_from_45"]), e_at(r) / e45, float(r["vdd"]),
                              "Stillmaker and Baas 2017 table")
    table_nodes = sorted(rows, reverse=True)
    for n in SUPPORTED_NODES:
        if n in rows or n < min(table_nodes):
            continue
        hi = min(t for t in table_nodes if t > n)
        lo = max(t for t in table_nodes if t < n)
        w = math.log(hi / n) / math.log(hi / lo)  # 0 at hi, 1 at lo
        rows[n] = NodeFactors(n, _loglerp(rows[hi].area, rows[lo].area, w),
                              _loglerp(rows[hi].energy, rows[lo].energy, w),
                              (1 - w) * rows[hi].vdd + w * rows[lo].vdd,
                              f"log-log interpolation between {hi:g} and {lo:g} nm")
    with open(DATA / "node_extensions.csv", newline="") as f:
        for r in csv.DictReader(f):
            n, base = float(r["node_nm"]), rows[float(r["from_node_nm"])]
            rows[n] = NodeFactors(n, base.area * float(r["area_factor"]),
                                  base.energy * float(r["energy_factor"]), float(r["vdd"]),
                                  f"{r['from_node_nm']} nm x published {n:g}-vs-"
                                  f"{r['from_node_nm']} nm factors")
    missing = [n for n in SUPPORTED_NODES if n not in rows]
    if missing:  # a data-file problem, not a user error
        raise RuntimeError(f"scaling data lacks nodes {missing}")
    return rows


def _loglerp(a: float, b: float, w: float) -> float:
    """Geometric interpolation: ``a`` at w=0, ``b`` at w=1."""
    return math.exp((1 - w) * math.log(a) + w * math.log(b))


#: each supported node by its own value (``check_node``'s exact-match lookup)
_NODE_OF: dict[float, float] = {n: n for n in SUPPORTED_NODES}


def check_node(node_nm: float) -> float:
    """``node_nm`` as a supported node; an unsupported one raises listing the supported ones."""
    hit = _NODE_OF.get(node_nm) if isinstance(node_nm, (int, float)) else None
    if hit is not None:  # exactly a supported node: the common case
        return hit
    for n in SUPPORTED_NODES:
        if abs(float(node_nm) - n) < 1e-9:
            return n
    raise AccelsimError(f"unsupported technology node {node_nm:g} nm; supported nodes: "
                        f"{', '.join(f'{n:g}' for n in SUPPORTED_NODES)} nm")


def factors(node_nm: float) -> NodeFactors:
    """Area, energy and VDD factors of a node relative to 45 nm."""
    return _table()[check_node(node_nm)]


def area_factor(src_nm: float, dst_nm: float) -> float:
    """Multiply an area measured at ``src_nm`` by this to get it at ``dst_nm``."""
    return factors(dst_nm).area / factors(src_nm).area


def energy_factor(src_nm: float, dst_nm: float) -> float:
    """Multiply an energy measured at ``src_nm`` (nominal VDD) by this for ``dst_nm``."""
    return factors(dst_nm).energy / factors(src_nm).energy


def leakage_factor(src_nm: float, dst_nm: float) -> float:
    """Leakage power of one device from ``src_nm`` to ``dst_nm`` (scaled like energy)."""
    return energy_factor(src_nm, dst_nm)


def vdd(node_nm: float) -> float:
    """Nominal supply voltage (V) of the node, used by the wire model."""
    return factors(node_nm).vdd


def scale(value: float, how: str, src_nm: float | None, dst_nm: float) -> float:
    """Scale ``value`` by ``how`` ('energy', 'area', 'leakage' or 'none') to ``dst_nm``."""
    if how == "none" or src_nm is None:
        return value
    fn = {"energy": energy_factor, "area": area_factor, "leakage": leakage_factor}.get(how)
    if fn is None:
        raise ValueError(f"unknown scaling kind {how!r}")
    return value * fn(src_nm, dst_nm)
