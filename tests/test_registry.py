"""A new unit kind is one class plus a registration: proven with a toy unit."""
from __future__ import annotations

from typing import Literal

import numpy as np
import pytest
from pydantic import Field

import accelsim
from accelsim.arch import (OpCost, Peak, TileSchedule, Traffic, Unit, UnitConfig, register_unit,
                           unit_types)
from accelsim.errors import ConfigError

from conftest import gemm_trace


class ToyConfig(UnitConfig):
    type: Literal["toy_gemm"] = "toy_gemm"
    macs_per_cycle: int = Field(gt=0)


@register_unit("toy_gemm")
class ToyGemm(Unit):
    """MACs / macs_per_cycle cycles, one tile, compulsory traffic."""

    config_model = ToyConfig
    categories = ("gemm",)

    def peak(self, dtypes=()) -> Peak:
        return Peak.of_macs(self.config.macs_per_cycle)

    def _cost(self, op) -> OpCost:
        b = op.operand_bytes()
        tiles = TileSchedule(compute=np.array([float(op.macs() // self.config.macs_per_cycle)]),
                             traffic=(Traffic("A", read=np.array([b["A"]])),
                                      Traffic("B", read=np.array([b["B"]])),
                                      Traffic("C", write=np.array([b["C"]]))))
        return OpCost(unit=self.name, tiles=tiles, macs=op.macs(), flops=op.flops(), bytes={},
                      actions={}, peak=self.peak())


def _arch(spec):
    return accelsim.arch_from_dict({"clock_ghz": 1, "tech_node_nm": 7, "units": {"t": spec},
                                    "memory": {"dram": {"bandwidth_bytes_per_cycle": "unlimited"}}})


def test_registered_unit_is_usable_from_config():
    assert "toy_gemm" in unit_types()
    arch = _arch({"type": "toy_gemm", "macs_per_cycle": 64})
    res = accelsim.simulate(arch, gemm_trace(8, 8, 8), "tile")
    assert res.cycles == 8 * 8 * 8 / 64
    assert res.utilization == 1.0


def test_registered_unit_gets_validated_like_builtins():
    with pytest.raises(ConfigError, match=r"units\.t\.macs_per_cycle: Input should be greater than 0"):
        _arch({"type": "toy_gemm", "macs_per_cycle": 0})
    with pytest.raises(ConfigError, match=r"units\.t\.type: unknown unit type 'toy_gem'; did you mean 'toy_gemm'"):
        _arch({"type": "toy_gem"})
