"""Memories as components (DESIGN 2.6): ``memory:`` holds named memories, each with ``type:``.

A memory owns the time to move bytes (closed form for the analytical and op fidelities, a SimPy
resource for the event-driven ones), the actions that traffic causes (for energy) and its
capacity. ``type: bandwidth`` is a fixed-bandwidth off-chip memory (the pre-spine model,
number for number); ``type: buffer`` is a shared on-chip SRAM that keeps producer->consumer
edges on chip when they fit. A new memory kind is one module here with
``@register_memory("name")``.
"""
from .base import MEMORIES, Memory, MemoryConfig, memory_types, register_memory

__all__ = ["MEMORIES", "Memory", "MemoryConfig", "memory_types", "register_memory"]
