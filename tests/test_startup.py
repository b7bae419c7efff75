"""Issue 16: `import accelsim` and short CLI commands load only what they use.

Each check runs a fresh interpreter and reads its ``sys.modules``: the heavy libraries (pandas,
pyarrow, rich, simpy, matplotlib, torch, ray, optuna, scipy) and the engine must not be
imported by ``import accelsim`` or ``accelsim --version``; ``accelsim gemm`` must not import
pandas, pyarrow, matplotlib or the unit modules it does not use.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("pandas", "pyarrow", "rich", "simpy", "matplotlib", "torch", "ray", "optuna", "scipy")


def _modules_after(code: str) -> set[str]:
    """Top-level and accelsim module names loaded by ``code`` in a fresh interpreter."""
    probe = (code + "\nimport sys, json\nprint('@@' + json.dumps(sorted(m for m in sys.modules "
             "if '.' not in m or m.startswith('accelsim'))))")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1]
    return set(json.loads(line[2:]))


def test_import_accelsim_is_light():
    mods = _modules_after("import accelsim")
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert not {"numpy", "pydantic", "yaml"} & mods
    assert not [m for m in mods if m.startswith(("accelsim.engine", "accelsim.arch"))]


def test_public_api_still_resolves():
    mods = _modules_after("import accelsim\n"
                          "assert callable(accelsim.simulate) and callable(accelsim.load_workload)\n"
                          "assert accelsim.FIDELITIES and accelsim.SimResult and accelsim.Gemm\n"
                          "from accelsim import load_arch, Trace, AccelsimError, __version__\n"
                          "assert __version__ and 'simulate' in dir(accelsim)")
    assert "accelsim.pipeline" in mods


def test_version_loads_no_engine_or_heavy_library():
    mods = _modules_after("import sys\nfrom accelsim.cli import main\n"
                          "try:\n    main(['--version'])\nexcept SystemExit as e:\n"
                          "    assert e.code == 0, e.code")
    assert not mods & set(HEAVY), mods & set(HEAVY)
    assert not {"numpy", "pydantic", "yaml"} & mods
    assert "accelsim.pipeline" not in mods


def test_gemm_loads_only_what_it_uses():
    mods = _modules_after("from accelsim.cli import main\n"
                          "assert main(['gemm', 'configs/scalesim/sa32_os.yaml', '--m', '64', "
                          "'--n', '64', '--k', '64']) == 0")
    assert not {"pandas", "pyarrow", "matplotlib", "torch", "ray", "optuna", "scipy",
                "simpy"} & mods  # one op is a chain: the exact fast path needs no events
    assert "accelsim.arch.units.systolic" in mods
    # a lookup by type imports that unit's module only, not every unit kind
    assert not {"accelsim.arch.units.gpu", "accelsim.arch.units.mixpe",
                "accelsim.arch.units.bitfusion", "accelsim.dse", "accelsim.system.simulate",
                "accelsim.workload.commands", "accelsim.workload.zoo"} & mods


def test_listing_still_loads_every_implementation():
    mods = _modules_after("from accelsim.arch.registry import UNITS\n"
                          "assert 'systolic_array' in UNITS\n"
                          "names = UNITS.names()\n"
                          "assert {'gpu', 'mixpe', 'systolic_array', 'vector'} <= set(names)")
    assert "accelsim.arch.units.gpu" in mods


def test_submodules_reachable_as_attributes():
    _modules_after("import accelsim\nassert accelsim.engine.plan.plan and accelsim.arch.base")


def test_command_of_and_help_lists_every_command(capsys):
    import pytest

    from accelsim.cli import build_parser, command_of
    assert command_of(["gemm", "a.yaml", "--m", "1"]) == "gemm"
    assert command_of(["--version"]) == ""
    assert command_of(["-h", "gemm"]) is None and command_of([]) is None
    assert command_of(["sweep", "x.yaml"]) == "sweep"
    with pytest.raises(SystemExit):
        build_parser(command_of(["-h", "gemm"])).parse_args(["-h", "gemm"])
    out = capsys.readouterr().out
    assert "sweep" in out and "workload" in out and "gemm" in out


def test_registry_order_does_not_depend_on_lookups():
    """A lookup by name imports one module out of turn; the listing order stays the same."""
    code = ("from accelsim.arch.registry import UNITS\nfrom accelsim.engine.fidelities import "
            "FIDELITIES\n{pre}\nprint('@@' + repr((UNITS.names(), FIDELITIES.names())))\n")
    outs = []
    for pre in ("", "UNITS.get('vector'); FIDELITIES.get('tile')",
                "UNITS.get('gpu'); UNITS.get('systolic_array'); FIDELITIES.get('op')"):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", code.format(pre=pre)], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outs.append([ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1])
    assert outs[0] == outs[1] == outs[2]
    assert "['analytical', 'op', 'tile']" in outs[0]
