"""Issue 16: a command's start-up runs without cyclic GC scans (``accelsim.startup``), and the
collector is back on, as the caller had it, for the command's work and after it."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accelsim.startup import startup

ROOT = Path(__file__).resolve().parent.parent
GEMM = ["gemm", "configs/scalesim/sa32_os.yaml", "--m", "64", "--n", "64", "--k", "64"]


def test_paused_inside_back_on_after():
    assert gc.isenabled()
    with startup():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_nested_phase_ends_with_the_outermost():
    with startup():
        with startup():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_on_after_an_error():
    with pytest.raises(ValueError):
        with startup():
            raise ValueError("x")
    assert gc.isenabled()


def test_a_collector_the_caller_turned_off_stays_off():
    gc.disable()
    try:
        with startup():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_gemm_in_process_leaves_the_collector_on(capsys):
    from accelsim.cli import main
    assert main(GEMM) == 0
    assert gc.isenabled()
    assert "cycles" in capsys.readouterr().out


def test_gemm_process_collects_little_while_starting():
    """Without the pause this process ran ~80 young-generation collections (issue 16)."""
    code = ("import gc, sys\nn = [0]\n"
            "gc.callbacks.append(lambda phase, info: n.__setitem__(0, n[0] + (phase == 'stop')))\n"
            "from accelsim.cli import main\nrc = main(sys.argv[1:])\n"
            "print('@@', rc, n[0], gc.isenabled())")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", code, *GEMM], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    _, rc, n, on = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1].split()
    assert rc == "0" and on == "True"
    assert int(n) < 20, n
