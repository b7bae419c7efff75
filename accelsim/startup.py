"""Start-up without the cyclic garbage collector (issue 16).

A command's start-up (importing numpy, pydantic and accelsim, building the config schemas,
loading the arch) makes tens of thousands of objects that live as long as the process:
modules, classes, functions, schemas. CPython's cyclic collector scans the young ones every
700 allocations and finds next to nothing to free: about 80 collections, ~0.02 s of a 0.25 s
``accelsim gemm`` on the 2-core reference machine (measured with ``gc.callbacks``).

``startup()`` turns the collector off for that phase; at its end it moves what start-up made
to the permanent generation (``gc.freeze``: later collections do not scan it again; start-up
garbage in a cycle, if any, stays until exit) and turns the collector back on, so the
command's own work (the simulation) runs with the collector as usual. Nested uses are one
phase (the outermost ends it). No result depends on when objects are collected.
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterator


@contextmanager
def startup() -> Iterator[None]:
    """The cyclic GC paused for the block; then start-up's objects frozen and the GC back on
    (a no-op when the collector was already off: an enclosing ``startup()`` or the caller's)."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()
