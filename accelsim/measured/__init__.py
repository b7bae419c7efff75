"""Checking a device model against measurements, and fitting its documented efficiencies.

``cases``: the CSV schema (one measured case per row) and each row as a workload;
``check``: predicted against measured, per row and per kind; ``fit``: the GPU calibration
values fitted on one half of the rows, reported on the other; ``commands``: ``accelsim measured
check | fit``.
"""
from .cases import Case, read_cases
from .check import check, summary

__all__ = ["Case", "check", "read_cases", "summary"]
