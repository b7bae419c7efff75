"""accelsim: a cycle-approximate simulator and design-space explorer for LLM-inference hardware.

    import accelsim
    arch = accelsim.load_arch("configs/scalesim/sa32_os.yaml", overrides=["units.sa.rows=64"])
    trace = accelsim.load_workload("workloads/examples/gemm_small.yaml")
    result = accelsim.simulate(arch, trace, fidelity="op")
    accelsim.simulate(arch, "llama2-7b")   # a zoo name, HF config/folder/cached id or trace path
    accelsim.load_workload("llama2-7b", phase="prefill", batch=4, prompt=1024)
    result.cycles, result.latency_s, result.per_op, result.to_dict()
"""
from importlib.metadata import PackageNotFoundError, version as _version

try:
    __version__ = _version("accelsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+src"

from .arch import Arch, Device, arch_from_dict, load_arch, load_device  # noqa: E402
from .engine import FIDELITIES, SimResult  # noqa: E402
from .pipeline import simulate  # noqa: E402
from .errors import AccelsimError, ConfigError  # noqa: E402
from .workload import Gemm, Trace, load_trace  # noqa: E402
from .workload.zoo import load_workload  # noqa: E402

__all__ = ["FIDELITIES", "AccelsimError", "Arch", "ConfigError", "Device", "Gemm", "SimResult",
           "Trace", "__version__", "arch_from_dict", "load_arch", "load_device", "load_trace",
           "load_workload", "simulate"]
