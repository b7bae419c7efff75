"""Collective communication ops of a multi-device system (``accelsim.system``): all-reduce,
all-gather, reduce-scatter, all-to-all and send/receive of ``bytes`` per device over a group
of ``group`` devices. They run on a device's ``link`` unit (the network port), so compute and
communication overlap as the DAG allows; their time is the topology's (system/topology.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..config.bounds import MAX_DIM, MAX_OP_BYTES
from ..errors import AccelsimError
from .ops import OP_KINDS, Op

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all", "send_recv")


@OP_KINDS.register("collective")
@dataclass(frozen=True)
class Collective(Op):
    """``collective`` of ``bytes`` (per device, the message NCCL calls ``size``) over
    ``group`` devices, every ``stride``-th rank (1: contiguous ranks; the tensor-parallel
    size: the same rank of each data-parallel replica, system/topology.py ``_spans``)."""

    collective: str = "all_reduce"
    bytes: float = 0.0
    group: int = 2
    stride: int = 1

    kind: ClassVar[str] = "collective"
    category: ClassVar[str] = "collective"
    inputs: ClassVar[tuple[str, ...]] = ("in",)

    def __post_init__(self) -> None:
        if self.collective not in COLLECTIVES:
            raise AccelsimError(f"op {self.name!r}: unknown collective {self.collective!r}; "
                                f"known: {', '.join(COLLECTIVES)}")
        if isinstance(self.bytes, bool) or not (isinstance(self.bytes, (int, float))
                                                and 0 <= self.bytes <= MAX_OP_BYTES):
            raise AccelsimError(f"op {self.name!r}: bytes must be a number from 0 to "
                                f"{MAX_OP_BYTES:.0f} (2^60), got {self.bytes!r}")
        if not isinstance(self.group, int) or isinstance(self.group, bool) or \
                not 1 <= self.group <= MAX_DIM:
            raise AccelsimError(f"op {self.name!r}: group must be a positive integer of at "
                                f"most {MAX_DIM:,}, got {self.group!r}")
        if not isinstance(self.stride, int) or isinstance(self.stride, bool) or \
                not 1 <= self.stride <= MAX_DIM:
            raise AccelsimError(f"op {self.name!r}: stride must be a positive integer of at "
                                f"most {MAX_DIM:,}, got {self.stride!r}")

    def flops(self) -> float:
        return 0.0

    def operand_bytes(self) -> dict[str, float]:
        """The message stays where it is produced and consumed (NCCL reads and writes it in
        device memory; not charged here)."""
        return {}
