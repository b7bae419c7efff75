"""SCALE-Sim ``scale.cfg`` files as accelsim architectures (``accelsim run scale.cfg topo.csv``).

A ``.cfg`` given where an architecture is expected (``load_arch``, ``accelsim run``, ``validate``,
``gemm``) becomes the one-array system that ``configs/scalesim/base.yaml`` describes, the mapping
accelsim already uses to reproduce SCALE-Sim 3.0.0 (its compute cycles match exactly):

==================================================  ==============================================
scale.cfg                                           accelsim
==================================================  ==============================================
``[general] run_name``                              ``name`` (default: the file's stem)
``ArrayHeight`` x ``ArrayWidth``                    ``units.sa.rows`` x ``units.sa.cols``
``Dataflow`` (os, ws, is)                           ``units.sa.dataflow``
``IfmapSramSzkB``, ``FilterSramSzkB``,              ``units.sa.sram.ifmap_kb``, ``filter_kb``,
``OfmapSramSzkB``                                   ``ofmap_kb`` (double-buffered, as SCALE-Sim)
(1-byte words, no clock)                            ``pe_dtype: int8``, ``clock_ghz: 1``
                                                    (latency_s = cycles / 1e9), folds back to back
                                                    (``fold_overlap: false``), ``tech_node_nm: 28``
``[run_presets] InterfaceBandwidth: CALC``          DRAM ``bandwidth_bytes_per_cycle: unlimited``
                                                    (SCALE-Sim's CALC mode never stalls)
``InterfaceBandwidth: USER``                        DRAM bandwidth = ifmap + filter + ofmap channel
                                                    bandwidths (words = bytes per cycle): SCALE-Sim
                                                    has three independent channels, accelsim one
                                                    shared DRAM. The ofmap channel is the first
                                                    ``Bandwidth`` value; ifmap and filter are
                                                    ``[layout] IfmapSRAMBankBandwidth`` and
                                                    ``FilterSRAMBankBandwidth`` (SCALE-Sim 3,
                                                    ``single_layer_sim.py``), or ``Bandwidth`` when
                                                    the file has no ``[layout]`` (SCALE-Sim 2)
==================================================  ==============================================

Keys SCALE-Sim reads but that change nothing here are accepted and checked for type: the DRAM
address offsets, ``MemoryBanks`` (and ``OnChipMemoryBanks``/``OnChipMemoryBankPorts``, as in
SCALE-Sim's ``eyeriss.cfg``), ``Read/WriteRequestBuffer`` (used only with Ramulator), the
``[layout]`` bank counts and ports (used only with custom layouts), ``[sparsity]`` settings while
``SparsitySupport`` is false, ``[network_presets] TopologyCsvLoc`` (the topology is the command's
WORKLOAD argument). Features accelsim does not model are refused, never silently ignored:
``SparsitySupport: true``, ``IfmapCustomLayout``/``FilterCustomLayout: true`` and
``UseRamulatorTrace: true``. Unknown sections or keys, duplicates, bad values and missing
required keys are ConfigErrors naming the file, line, ``[section]`` and key.

The INI syntax is configparser's (what SCALE-Sim uses): ``key = value`` or ``key: value``, keys
case-insensitive, ``#`` and ``;`` comment lines. Section and key names follow SCALE-Sim's
``scalesim/scale_config.py`` (``read_conf_file``) in scale-sim-v2 and scale-sim-v3; no SCALE-Sim
code is copied. ``-o key.path=value`` overrides apply to the accelsim form
(``-o units.sa.rows=64``).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Callable

from ..config import SourceDoc, suggest
from ..config.files import MAX_CONFIG_BYTES, read_text
from ..errors import ConfigError

#: the accelsim keys a scale.cfg cannot express, as in configs/scalesim/base.yaml
BASE = {"clock_ghz": 1.0, "tech_node_nm": 28, "pe_dtype": "int8", "fold_overlap": False,
        "double_buffered": True}
UNIT = "sa"
DATAFLOWS = ("os", "ws", "is")
BW_MODES = ("CALC", "USER")

_INT = "int"
_POS = "positive int"
_BOOL = "bool"
_TEXT = "text"
_INTS = "positive ints"

#: section -> {lower-case key: (spelling in SCALE-Sim's files, value kind)}
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "general": {"run_name": ("run_name", _TEXT)},
    "architecture_presets": {k.lower(): (k, kind) for k, kind in (
        ("ArrayHeight", _POS), ("ArrayWidth", _POS), ("IfmapSramSzkB", _POS),
        ("FilterSramSzkB", _POS), ("OfmapSramSzkB", _POS), ("IfmapOffset", _INT),
        ("FilterOffset", _INT), ("OfmapOffset", _INT), ("Bandwidth", _INTS),
        ("Dataflow", _TEXT), ("MemoryBanks", _POS), ("OnChipMemoryBanks", _POS),
        ("OnChipMemoryBankPorts", _POS), ("ReadRequestBuffer", _POS),
        ("WriteRequestBuffer", _POS))},
    "layout": {k.lower(): (k, kind) for k, kind in (
        ("IfmapCustomLayout", _BOOL), ("IfmapSRAMBankBandwidth", _POS),
        ("IfmapSRAMBankNum", _POS), ("IfmapSRAMBankPort", _POS),
        ("FilterCustomLayout", _BOOL), ("FilterSRAMBankBandwidth", _POS),
        ("FilterSRAMBankNum", _POS), ("FilterSRAMBankPort", _POS))},
    "sparsity": {k.lower(): (k, kind) for k, kind in (
        ("SparsitySupport", _BOOL), ("SparseRep", _TEXT), ("OptimizedMapping", _BOOL),
        ("BlockSize", _POS), ("RandomNumberGeneratorSeed", _INT))},
    "run_presets": {k.lower(): (k, kind) for k, kind in (
        ("InterfaceBandwidth", _TEXT), ("UseRamulatorTrace", _BOOL))},
    "network_presets": {k.lower(): (k, kind) for k, kind in (
        ("TopologyCsvLoc", _TEXT), ("LayoutCsvLoc", _TEXT))},
}
#: what SCALE-Sim requires (``config.get`` without a fallback) and accelsim needs
REQUIRED = {"architecture_presets": ("arrayheight", "arraywidth", "ifmapsramszkb",
                                     "filtersramszkb", "ofmapsramszkb", "dataflow"),
            "run_presets": ("interfacebandwidth",)}
#: the largest integer accepted for any value (a sane bound: 2^40 PEs rows, KB, words/cycle)
MAX_INT = 2 ** 40
#: configparser's booleans
_BOOLS = {"1": True, "yes": True, "true": True, "on": True,
          "0": False, "no": False, "false": False, "off": False}
_SECTION = re.compile(r"^\[(?P<name>[^\]]*)\]\s*$")


def is_scalesim_cfg(path: str | Path) -> bool:
    """Whether ``path`` names a SCALE-Sim config (by its ``.cfg`` suffix)."""
    return Path(str(path)).suffix.lower() == ".cfg"


class _Entry:
    __slots__ = ("key", "value", "line")

    def __init__(self, key: str, value: str, line: int) -> None:
        self.key, self.value, self.line = key, value, line


def parse_ini(text: str, file: str) -> tuple[dict[str, dict[str, _Entry]], dict[str, int]]:
    """configparser's syntax: the sections' entries and the line of each section header;
    located errors for keys outside a section, duplicate sections or keys, and lines that are
    neither."""
    sections: dict[str, dict[str, _Entry]] = {}
    section_lines: dict[str, int] = {}
    current: str | None = None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        m = _SECTION.match(line)
        if m:
            current = m.group("name").strip()
            if current in sections:
                raise ConfigError(f"section [{current}] appears twice (first on line "
                                  f"{section_lines[current]})", file=file, line=lineno)
            sections[current], section_lines[current] = {}, lineno
            continue
        if raw[:1].isspace() and current is not None and sections[current]:
            raise ConfigError("indented line: continuation lines are not supported in a "
                              "SCALE-Sim config (write each key on one line)", file=file,
                              line=lineno)
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise ConfigError("expected '[section]' or 'key = value' (or 'key: value')",
                              file=file, line=lineno)
        key, value = line[:cut].strip(), line[cut + 1:].strip()
        if current is None:
            raise ConfigError(f"key {key!r} before any [section]", file=file, line=lineno)
        lower = key.lower()
        if lower in sections[current]:
            first = sections[current][lower].line
            raise ConfigError(f"duplicate key (first on line {first})", file=file, line=lineno,
                              key_path=f"[{current}] {key}")
        sections[current][lower] = _Entry(key, value, lineno)
    return sections, section_lines


def load_scalesim_cfg(path: str | Path) -> SourceDoc:
    """Read a SCALE-Sim ``scale.cfg`` into the accelsim architecture document it stands for
    (with each accelsim key located at the cfg line it came from)."""
    file = str(path)
    text = read_text(path, max_bytes=MAX_CONFIG_BYTES, what="a SCALE-Sim config (scale.cfg)")
    return cfg_document(*parse_ini(text, file), file)


def cfg_document(sections: dict[str, dict[str, _Entry]], section_lines: dict[str, int],
                 file: str) -> SourceDoc:
    """The accelsim architecture document of parsed scale.cfg ``sections``."""
    def fail(section: str, key: str | None, msg: str, line: int | None = None) -> ConfigError:
        entry = sections.get(section, {}).get(key.lower()) if key else None
        spelled = entry.key if entry else key
        return ConfigError(msg, file=file, line=entry.line if entry else line,
                           key_path=f"[{section}] {spelled}" if key else f"[{section}]")

    for section, entries in sections.items():
        if section not in SCHEMA:
            raise ConfigError(f"unknown section [{section}]{suggest(section, SCHEMA)}; a "
                              f"SCALE-Sim config has {', '.join(f'[{s}]' for s in SCHEMA)}",
                              file=file, line=section_lines.get(section),
                              key_path=f"[{section}]")
        known = SCHEMA[section]
        for lower, entry in entries.items():
            if lower not in known:
                names = [spelled for spelled, _ in known.values()]
                raise fail(section, entry.key, f"unknown key {entry.key!r} in [{section}]"
                           f"{suggest(entry.key, names)}; known keys: {', '.join(names)}")
    for section, keys in REQUIRED.items():
        for lower in keys:
            if lower not in sections.get(section, {}):
                spelled = SCHEMA[section][lower][0]
                raise ConfigError(f"missing required key {spelled!r} in [{section}]", file=file,
                                  key_path=f"[{section}] {spelled}")

    values: dict[tuple[str, str], object] = {}
    for section, entries in sections.items():
        for lower, entry in entries.items():
            values[(section, lower)] = _value(SCHEMA[section][lower][1], entry,
                                              lambda msg, s=section, e=entry: fail(s, e.key, msg))

    def get(section: str, key: str, default: object = None) -> object:
        return values.get((section, key.lower()), default)

    def line(section: str, key: str) -> tuple[str, int | None]:
        entry = sections.get(section, {}).get(key.lower())
        return (file, entry.line if entry else None)

    df = str(get("architecture_presets", "Dataflow"))
    if df not in DATAFLOWS:
        raise fail("architecture_presets", "Dataflow", f"unknown dataflow {df!r}; SCALE-Sim's "
                   f"dataflows are {', '.join(DATAFLOWS)}")
    mode = str(get("run_presets", "InterfaceBandwidth"))
    if mode not in BW_MODES:
        raise fail("run_presets", "InterfaceBandwidth", f"must be CALC or USER, got {mode!r}")
    for section, key, what in (
            ("sparsity", "SparsitySupport", "SCALE-Sim's sparse arrays"),
            ("layout", "IfmapCustomLayout", "custom SRAM bank layouts"),
            ("layout", "FilterCustomLayout", "custom SRAM bank layouts"),
            ("run_presets", "UseRamulatorTrace", "Ramulator DRAM traces")):
        if get(section, key) is True:
            raise fail(section, key, f"accelsim does not model {what}; set {key} to False "
                       f"(or describe the design in an accelsim YAML)")

    origins: dict[tuple, tuple[str, int | None]] = {}
    if mode == "CALC":
        bandwidth: object = "unlimited"
        origins[("memory", "dram", "bandwidth_bytes_per_cycle")] = line("run_presets",
                                                                        "InterfaceBandwidth")
    else:
        if get("architecture_presets", "Bandwidth") is None:
            raise ConfigError("missing required key 'Bandwidth' in [architecture_presets] "
                              "(InterfaceBandwidth is USER)", file=file,
                              key_path="[architecture_presets] Bandwidth")
        ofmap = get("architecture_presets", "Bandwidth")[0]  # type: ignore[index]
        if "layout" in sections:
            reads = [get("layout", k, ofmap) for k in ("IfmapSRAMBankBandwidth",
                                                       "FilterSRAMBankBandwidth")]
        else:
            reads = [ofmap, ofmap]
        bandwidth = int(ofmap) + sum(int(r) for r in reads)  # type: ignore[call-overload]
        origins[("memory", "dram", "bandwidth_bytes_per_cycle")] = line("architecture_presets",
                                                                        "Bandwidth")
    name = get("general", "run_name") or Path(file).stem
    sram = {"ifmap_kb": get("architecture_presets", "IfmapSramSzkB"),
            "filter_kb": get("architecture_presets", "FilterSramSzkB"),
            "ofmap_kb": get("architecture_presets", "OfmapSramSzkB"),
            "double_buffered": BASE["double_buffered"]}
    data = {
        "name": name,
        "description": f"SCALE-Sim config {Path(file).name} ({mode} bandwidth mode)",
        "clock_ghz": BASE["clock_ghz"],
        "tech_node_nm": BASE["tech_node_nm"],
        "units": {UNIT: {
            "type": "systolic_array",
            "rows": get("architecture_presets", "ArrayHeight"),
            "cols": get("architecture_presets", "ArrayWidth"),
            "dataflow": df,
            "pe_dtype": BASE["pe_dtype"],
            "fold_overlap": BASE["fold_overlap"],
            "sram": sram}},
        "memory": {"dram": {"bandwidth_bytes_per_cycle": bandwidth}},
    }
    unit = ("units", UNIT)
    for path, (section, key) in {
            ("name",): ("general", "run_name"),
            unit: ("architecture_presets", "ArrayHeight"),  # checks of the array as a whole
            unit + ("rows",): ("architecture_presets", "ArrayHeight"),
            unit + ("cols",): ("architecture_presets", "ArrayWidth"),
            unit + ("dataflow",): ("architecture_presets", "Dataflow"),
            unit + ("sram", "ifmap_kb"): ("architecture_presets", "IfmapSramSzkB"),
            unit + ("sram", "filter_kb"): ("architecture_presets", "FilterSramSzkB"),
            unit + ("sram", "ofmap_kb"): ("architecture_presets", "OfmapSramSzkB")}.items():
        origins[path] = line(section, key)
    return SourceDoc(data=data, file=file, origins=origins)


def _value(kind: str, entry: _Entry, fail: Callable[[str], ConfigError]) -> object:
    """The typed value of one entry (SCALE-Sim reads numbers with ``int()``)."""
    v = entry.value
    if kind == _TEXT:
        if not v:
            raise fail("must not be empty")
        return v
    if kind == _BOOL:
        b = _BOOLS.get(v.lower())
        if b is None:
            raise fail(f"must be True or False, got {_shown(v)}")
        return b
    if kind == _INTS:
        parts = [p.strip() for p in v.split(",")]
        return [_int(p, True, fail) for p in parts]
    return _int(v, kind == _POS, fail)


def _int(v: str, positive: bool, fail: Callable[[str], ConfigError]) -> int:
    try:
        n = int(v)
    except ValueError:
        raise fail(f"must be {'a positive' if positive else 'an'} integer, got "
                   f"{_shown(v)}") from None
    if positive and n <= 0 or n < 0:
        raise fail(f"must be {'a positive' if positive else 'a non-negative'} integer, got {n}")
    if n > MAX_INT:
        raise fail(f"must be at most {MAX_INT:,} (2^40), got {_shown(v)}")
    return n


def _shown(value: str, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."
