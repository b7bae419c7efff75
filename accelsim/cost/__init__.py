"""Energy and area: a cited technology library, node scaling, component models, accounting.

* ``techlib``: the constants (``data/*.csv``), one row per (component, action, node), each with
  its source; fitted constants apart in ``data/calibration.csv``.
* ``scaling``: Stillmaker and Baas 2017 node scaling, 45 to 7 nm, plus 5 nm.
* ``arith``, ``memory``, ``components``: per-component models (integer and floating-point MACs,
  registers, muxes, LUTs, shift-and-add, SRAM, DRAM, wires).
* ``estimator``: Accelergy-style accounting of a simulation (``arch_cost``, ``CostReport``).
* ``anchors``: the TPU v1 and Eyeriss sanity anchors; ``commands``: ``accelsim techlib show``.

See docs/energy_area.md.
"""
