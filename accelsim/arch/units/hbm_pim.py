"""Samsung HBM-PIM (``type: hbm_pim``, Aquabolt-XL / FIMDRAM): a 16-lane FP16 SIMD unit per
bank pair, fed by all-bank column reads, run by its own command set (the pim_bank model with
HBM-PIM's organisation and pacing).

From the vendor's simulator (SAITPublic/PIMSimulator@b464dde: README "1 PIM block per 2
banks", NUM_PIM_BLOCKS = 8 per 16 banks, 256-bit prefetch = 16 FP16 lanes, GRF_A / GRF_B of
8 x 256 b) and ../shared/reference/papers/commercial_pim.yaml: in all-bank PIM mode (HAB_PIM)
one command reaches every PIM block of a pseudo-channel; a block's MAC takes one 256-bit column
of one of its two banks per column command, so commands are paced by tCCD_L (same bank group),
and a row's columns are shared by the two banks of the pair (each block computes one output per
two banks' rows).

One tile (a row-sized chunk of K for ``banks / 2`` outputs of one pseudo-channel):
    t_tile = tRP + tRCD + tCCD_L x max(2 x row_bytes / 32 B, pipeline_fill) + t_readout,
(all-bank activation without tFAW grouping: the HAB mode's single ACT, as the simulator's
all-bank commands), t_readout = max(Tb, tCCD_L) (result bursts - 1); the input vector enters
the GRFs at GWRITE's cost (row bytes / burst bytes writes at tCCD_S + tCCD_L). The GEMV,
batching over channels and row packing are pim_bank's. Not modelled: the ISA's instruction
sequencing (MAD, FILL, JUMP) beyond MAC streams, and the GRF capacity limit (8 x 256 b) on
how much of the vector a block holds.
"""
from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from ..registry import register_unit
from .pim_bank import PimBankConfig, PimBankUnit

COLUMN_BYTES = 32      # 256-bit prefetch per column read (16 FP16 lanes)


class HbmPimConfig(PimBankConfig):
    type: Literal["hbm_pim"] = "hbm_pim"     # type: ignore[assignment]
    multipliers_per_bank: int = Field(8, gt=0, le=1024, description="16 FP16 lanes per "
                                      "PIM block, one block per two banks")


@register_unit("hbm_pim")
class HbmPimUnit(PimBankUnit):
    """HBM-PIM: a SIMD block per bank pair, all-bank commands paced by tCCD_L."""

    config_model = HbmPimConfig
    config: HbmPimConfig

    def peak(self, dtypes=()):
        """16 lanes of every block of every pseudo-channel once per tCCD_L."""
        from ..base import Peak
        std = self._dram().standard
        lanes = COLUMN_BYTES // self.elem_bytes
        return Peak.of_macs(self.channels * (self.banks // 2) * lanes
                            / (std.timing.tCCD_L * self._ticks_per_ck()))

    def tile_ck(self, vector_elems: float | None = None, results: int = 1) -> float:
        std = self._dram().standard
        t, tb = std.timing, std.burst_ck
        elems = std.organisation.row_bytes / self.elem_bytes if vector_elems is None \
            else vector_elems
        comps = max(math.ceil(2 * elems * self.elem_bytes / COLUMN_BYTES),
                    self.config.pipeline_fill)          # two banks per block
        blocks = self.banks // 2
        readres = max(1, math.ceil(blocks * results * self.elem_bytes
                                   / std.organisation.burst_bytes))
        return t.tRP + t.tRCD + t.tCCD_L * comps + max(tb, t.tCCD_L) * (readres - 1)
