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
    assert "rich" not in mods  # output captured, not a terminal: the plain table, no rich
    assert "accelsim.arch.units.systolic" in mods
    # a lookup by type imports that unit's module only, not every unit kind
    assert not {"accelsim.arch.units.gpu", "accelsim.arch.units.mixpe",
                "accelsim.arch.units.bitfusion", "accelsim.dse", "accelsim.system.simulate",
                "accelsim.workload.commands", "accelsim.workload.zoo",
                "accelsim.arch.units.pim_bank"} & mods  # the PIM pass asks only if one was built


def test_gemm_builds_only_the_schemas_it_validates():
    """Config schemas defer their pydantic build (``SaneModel``): bases and the schemas of
    modules gemm imports but never validates stay unbuilt."""
    probe = ("from accelsim.cli import main\n"
             "assert main(['gemm', 'configs/scalesim/sa32_os.yaml', '--m', '8', '--n', '8', "
             "'--k', '8']) == 0\n"
             "from accelsim.config.bounds import SaneModel\n"
             "def sub(c):\n    for s in c.__subclasses__():\n        yield s\n"
             "        yield from sub(s)\n"
             "built = sorted(c.__name__ for c in sub(SaneModel) if c.__pydantic_complete__)\n"
             "print('@@' + ','.join(built))")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    built = set([ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1][2:].split(","))
    assert {"SystolicConfig", "DeviceConfig", "BandwidthConfig"} <= built
    assert not {"UnitConfig", "MemoryConfig", "PolicyConfig"} & built


def test_deferred_schema_still_reports_located_errors(tmp_path):
    """A schema built on first use gives the same located error as one built at import."""
    import pytest

    from accelsim.arch import load_arch
    from accelsim.errors import AccelsimError
    src = ROOT / "configs" / "scalesim"
    (tmp_path / "base.yaml").write_text((src / "base.yaml").read_text())
    cfg = tmp_path / "bad.yaml"
    cfg.write_text((src / "sa32_os.yaml").read_text().replace("rows: 32", "rows: -4", 1))
    with pytest.raises(AccelsimError, match=r"bad\.yaml:6.*rows"):
        load_arch(cfg)


def _rich_table(title: str, rows: list[tuple[str, str]]) -> str:
    import io

    from rich.console import Console
    from rich.table import Table
    c = Console(file=io.StringIO(), width=150)
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column(justify="right")
    for r in rows:
        t.add_row(*r)
    c.print(t)
    return c.file.getvalue()


def test_plain_table_matches_rich():
    from accelsim.report.plain import key_value_table
    rows = [("cycles", "503"), ("compute_cycles", "1,234,567"), ("utilization", "50.89%"),
            ("latency", "503 ns"), ("bound", "compute")]
    for title in ("gemm_64x64x64 on sa32_os (op)", "g", "two  spaces  (op)",
                  "a long title with many words that must wrap over several lines of the table"):
        assert key_value_table(title, rows) == _rich_table(title, rows), title
    assert key_value_table("t", [("k", "v")]) == _rich_table("t", [("k", "v")])
    # what rich measures or folds its own way is left to rich
    assert key_value_table("gemm on a_name_longer_than_the_whole_table_is_wide", rows) is None
    micro = rows + [("latency", "11.2 µs")]
    assert key_value_table("gemm on µarch", micro) == _rich_table("gemm on µarch", micro)
    assert key_value_table("gemm on 中arch", rows) is None
    assert key_value_table("t", [("k", "x" * 200)]) is None


def test_gemm_output_unchanged_without_rich(capsys):
    """The gemm command's captured output is rich's rendering of the same table."""
    from accelsim.cli import main
    assert main(["gemm", "configs/scalesim/sa32_os.yaml", "--m", "64", "--n", "64",
                 "--k", "64"]) == 0
    out = capsys.readouterr().out
    rows = [ln.strip("│ ").split(" │ ") for ln in out.splitlines() if ln.startswith("│")]
    rows = [(k.strip(), v.strip()) for k, v in rows]
    assert rows[0] == ("cycles", "503") and rows[-1] == ("bound", "compute")
    assert out == _rich_table("gemm_64x64x64 on sa32_os (op)", rows)


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


def test_cli_asks_for_one_blas_thread_unless_set():
    """The CLI sets OPENBLAS_NUM_THREADS=1 before numpy loads; a value the user set stays."""
    code = ("import os\nfrom accelsim.cli import main\n"
            "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
            "print('@@' + os.environ.get('OPENBLAS_NUM_THREADS', 'unset'))")
    outs = []
    for extra in ({}, {"OPENBLAS_NUM_THREADS": "3"}):
        env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
        env.update(extra, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outs.append([ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1])
    assert outs == ["@@1", "@@3"]


def test_bundled_pass_table_matches_the_pass_classes():
    """``passes.BUNDLED`` (what ``passes_for`` reads without importing) says what each pass
    class says: its module, stage and default, for every pass module in the package."""
    from accelsim.engine.passes import BUNDLED, PASSES
    names = PASSES.names()  # loads every pass module
    assert sorted(names) == sorted(BUNDLED)
    for name in names:
        cls = PASSES.get(name)
        module, stage, default_on = BUNDLED[name]
        assert cls.__module__ == f"accelsim.engine.passes.{module}", name
        assert (cls.stage, cls.default_on) == (stage, default_on), name


def test_simulate_imports_only_the_passes_that_may_run():
    """A plain device imports the passes on by default, not those off unless asked for."""
    mods = _modules_after("from accelsim import load_arch, load_workload, simulate\n"
                          "simulate(load_arch('configs/sa128_bf16_hbm.yaml'),\n"
                          "         load_workload('llama2-7b', phase='decode', batch=2, ctx=64))")
    assert {"accelsim.engine.passes.lower", "accelsim.engine.passes.buffer_edges",
            "accelsim.engine.passes.pim_channels"} <= mods
    assert not {"accelsim.engine.passes.grouped_experts", "accelsim.engine.passes.lut_precompute",
                "accelsim.engine.passes.lut_precompute_fusion"} & mods


def test_pass_choice_is_the_same_with_every_pass_loaded():
    """Which passes run, and in what order, does not depend on which modules were imported."""
    code = ("from accelsim import load_arch\nfrom accelsim.engine.passes import PASSES, "
            "passes_for\n{pre}\nd = load_arch('configs/sa128_bf16_hbm.yaml')\n"
            "print('@@' + repr([[type(p).__name__ for p in passes_for(d, s)] "
            "for s in ('lower', 'place')]))\n")
    outs = []
    for pre in ("", "PASSES.names()"):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", code.format(pre=pre)], capture_output=True,
                              text=True, cwd=ROOT, env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outs.append([ln for ln in proc.stdout.splitlines() if ln.startswith("@@")][-1])
    assert outs[0] == outs[1]
    assert "TargetLowering" in outs[0]
