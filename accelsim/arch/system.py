"""Compatibility: the pre-spine module of ``Arch``; a device now lives in ``arch.device``.

(A *system* of several devices, with a topology and parallelism, is the multi-device issue's
package; this module only keeps old imports working.)
"""
from .device import Arch, Device, DeviceConfig, arch_from_dict, build_arch, load_arch

SystemConfig = DeviceConfig

__all__ = ["Arch", "Device", "DeviceConfig", "SystemConfig", "arch_from_dict", "build_arch",
           "load_arch"]
