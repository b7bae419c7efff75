"""accelsim: a cycle-approximate simulator and design-space explorer for LLM-inference hardware.

    import accelsim
    arch = accelsim.load_arch("configs/scalesim/sa32_os.yaml", overrides=["units.sa.rows=64"])
    trace = accelsim.load_workload("workloads/examples/gemm_small.yaml")
    result = accelsim.simulate(arch, trace, fidelity="op")
    accelsim.simulate(arch, "llama2-7b")   # a zoo name, HF config/folder/cached id or trace path
    accelsim.load_workload("llama2-7b", phase="prefill", batch=4, prompt=1024)
    result.cycles, result.latency_s, result.per_op, result.to_dict()

The public names are imported on first use (module ``__getattr__``, PEP 562), so ``import
accelsim`` and short commands such as ``accelsim --version`` do not pay for numpy, pydantic,
pandas or the engine (issue 16).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> module that defines it (imported when the name is first read)
_LAZY: dict[str, str] = {
    "Arch": "accelsim.arch", "Device": "accelsim.arch", "arch_from_dict": "accelsim.arch",
    "load_arch": "accelsim.arch", "load_device": "accelsim.arch",
    "FIDELITIES": "accelsim.engine", "SimResult": "accelsim.engine",
    "simulate": "accelsim.pipeline",
    "AccelsimError": "accelsim.errors", "ConfigError": "accelsim.errors",
    "Gemm": "accelsim.workload", "Trace": "accelsim.workload", "load_trace": "accelsim.workload",
    "load_workload": "accelsim.workload.zoo",
}

__all__ = sorted([*_LAZY, "__version__"])

#: subpackages reachable as attributes without an explicit import (``accelsim.engine.plan``)
_SUBPACKAGES = frozenset({"arch", "config", "cost", "dse", "engine", "functional", "measured",
                          "memory", "report", "reproduce", "system", "workload"})

if TYPE_CHECKING:  # for type checkers and IDEs: the same names, imported eagerly
    from .arch import Arch, Device, arch_from_dict, load_arch, load_device  # noqa: F401
    from .engine import FIDELITIES, SimResult  # noqa: F401
    from .errors import AccelsimError, ConfigError  # noqa: F401
    from .pipeline import simulate  # noqa: F401
    from .workload import Gemm, Trace, load_trace  # noqa: F401
    from .workload.zoo import load_workload  # noqa: F401
    __version__: str


def _package_version() -> str:
    """The installed distribution's version (``0.0.0+src`` in a source tree without one).

    Read from the first ``accelsim-*.dist-info`` on ``sys.path`` when there is exactly one in
    that folder (importlib.metadata costs a short command a quarter of its start-up), else
    through ``importlib.metadata``."""
    import os
    import sys
    for entry in sys.path:
        try:
            names = [n for n in os.listdir(entry or ".")
                     if n.startswith("accelsim-") and n.endswith(".dist-info")]
        except OSError:
            continue
        if len(names) == 1:
            try:
                with open(os.path.join(entry or ".", names[0], "METADATA"),
                          encoding="utf-8") as f:
                    for line in f:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():
                            break  # end of the headers
            except OSError:
                pass
        if names:
            break
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("accelsim")
    except PackageNotFoundError:  # running from a source tree without installation
        return "0.0.0+src"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _package_version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"accelsim.{name}")
    else:
        raise AttributeError(f"module 'accelsim' has no attribute {name!r}")
    globals()[name] = value  # later reads are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
