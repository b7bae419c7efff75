"""Inputs as users bring them (issue 17): SCALE-Sim topology CSVs and scale.cfg files, Hugging
Face model ids / folders / config.json files, strings as workloads in the Python API; and the
packaging that a fresh install needs (extras, optional optuna, shipped configs and examples)."""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tomllib

import pytest

import accelsim
from accelsim.cli import main
from accelsim.errors import AccelsimError, ConfigError
from accelsim.workload import Gemm, load_trace
from accelsim.workload.scalesim import conv_gemm_dims

from conftest import ROOT

EXAMPLES = ROOT / "configs" / "scalesim" / "examples"
CFG = EXAMPLES / "scale.cfg"
TOPO = EXAMPLES / "resnet_3layers.csv"
SA32_OS = ROOT / "configs" / "scalesim" / "sa32_os.yaml"
HBM = ROOT / "configs" / "sa128_bf16_hbm.yaml"
CONV_HEAD = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
             "Num Filter, Strides,\n")


def fails(capsys, argv, *needles):
    """The CLI must fail with one clean located ``error:`` naming every needle."""
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error: ") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert str(n) in err, (n, err)
    return err


def run_json(capsys, *argv) -> dict:
    assert main(["run", *map(str, argv), "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def gemms(trace):
    return [(op.name, op.m, op.n, op.k) for seg in trace.segments for op in seg.ops]


# --------------------------------------------------------------------------- SCALE-Sim topologies

@pytest.mark.parametrize("h, w, r, s, sh, sw", [(224, 224, 7, 7, 2, 2), (56, 56, 3, 3, 1, 1),
                                                (57, 31, 3, 5, 2, 3), (7, 7, 7, 7, 1, 1),
                                                (10, 9, 1, 1, 4, 4)])
def test_conv_lowering_is_scalesims_formula(h, w, r, s, sh, sw):
    # topology_utils.py (topo_calc_hyperparams): ofmap = ceil((ifmap - filt + stride) / stride)
    oh, ow = math.ceil((h - r + sh) / sh), math.ceil((w - s + sw) / sw)
    assert conv_gemm_dims(h, w, r, s, 5, 11, sh, sw) == (oh * ow, 11, r * s * 5)


def test_conv_topology_is_read_as_convolutions_not_gemms(tmp_path):
    p = tmp_path / "net.csv"
    p.write_text(CONV_HEAD + "Conv1,224,224,7,7,3,64,2,\nConv2, 56, 56, 3, 3, 64, 64, 1,\n")
    tr = load_trace(p)
    assert gemms(tr) == [("Conv1", 110 * 110, 64, 147), ("Conv2", 54 * 54, 64, 576)]
    assert tr.segments[0].ops[0] == Gemm("Conv1", m=12100, n=64, k=147, dtype="int8")
    assert load_trace(p, csv_dtype="bf16").segments[0].ops[0].dtype == "bf16"


def test_conv_topology_variants(tmp_path):
    p = tmp_path / "v.csv"
    # no header (seven numbers per row), a v2 stride-width column, a v3 dense ratio, a comment
    # cell, a repeated name, and a depth-wise layer (SCALE-Sim: one layer per channel)
    p.write_text("a,10,12,3,3,4,8,1,2,\nb,10,10,3,3,4,8,1,1:1,\na,8,8,1,1,2,2,1,#again\n"
                 "c_DP,9,9,3,3,16,1,1,\n")
    tr = load_trace(p)
    assert gemms(tr) == [("a", 8 * 6, 8, 36), ("b", 64, 8, 36), ("a_2", 64, 2, 2),
                         ("c_DP", 49, 1, 9)]
    assert [s.repeat for s in tr.segments] == [1, 16]
    assert tr.num_ops() == 3 + 16


@pytest.mark.parametrize("row, needle", [
    ("x,3,3,5,1,1,1,1,", "filter 5x1 is larger than the input map 3x3"),
    ("x,8,8,3,three,1,1,1,", "Filter Width must be a positive integer, got 'three'"),
    ("x,8,8,3,3,1,1,0,", "Strides must be a positive integer, got 0"),
    ("x,8,8,3,3,1,1,1,2:4,", "accelsim does not model SCALE-Sim's sparse arrays"),
    ("x,8,8,3,3,1,1,", "expected 8 columns"),
    ("x,8,8,3,3,1,1,1,1,1,", "got 10 columns"),
])
def test_conv_topology_errors_name_file_and_line(tmp_path, capsys, row, needle):
    p = tmp_path / "bad.csv"
    p.write_text(CONV_HEAD + "ok,8,8,1,1,1,1,1,\n" + row + "\n")
    fails(capsys, ["run", CFG, p], f"{p}:3: ", needle)


def test_gemm_list_extra_columns_are_not_ignored(tmp_path, capsys):
    p = tmp_path / "g.csv"
    p.write_text("Layer, M, N, K,\nfc, 4, 8, 16, 1:1,\nfc, 2, 2, 2,\n")
    assert gemms(load_trace(p)) == [("fc", 4, 8, 16), ("fc_2", 2, 2, 2)]
    p.write_text("Layer, M, N, K,\nfc, 4, 8, 16, 3, 3,\n")
    fails(capsys, ["run", CFG, p], f"{p}:2: ", "got 6 columns")


# --------------------------------------------------------------------------- scale.cfg

def _resolved_without_name(arch):
    d = arch.resolved()
    d.pop("name"), d.pop("description")
    return d


def test_example_cfg_is_the_same_design_as_sa32_os_yaml():
    cfg, yaml_arch = accelsim.load_arch(CFG), accelsim.load_arch(SA32_OS)
    assert cfg.name == "scalesim_example_32x32_os"
    assert _resolved_without_name(cfg) == _resolved_without_name(yaml_arch)


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_run_cfg_with_conv_topology_matches_yaml_with_gemm_list(tmp_path, capsys, df):
    cfg = tmp_path / "scale.cfg"
    cfg.write_text(CFG.read_text().replace("Dataflow : os", f"Dataflow : {df}"))
    ours = run_json(capsys, cfg, TOPO, "--fidelity", "analytical")
    lowered = load_trace(TOPO)
    gemm_csv = tmp_path / "resnet_3layers_gemm.csv"
    gemm_csv.write_text("Layer, M, N, K,\n" + "".join(f"{n}, {m}, {nn}, {k},\n"
                                                      for n, m, nn, k in gemms(lowered)))
    ref = run_json(capsys, ROOT / "configs" / "scalesim" / f"sa32_{df}.yaml", gemm_csv,
                   "--fidelity", "analytical")
    assert ours["compute_cycles"] == ref["compute_cycles"] and ours["stall_cycles"] == 0
    # SCALE-Sim 3.0.0's compute cycles per layer (tests/fixtures/scalesim/README.md)
    R = C = 32
    want = 0
    for _, m, n, k in gemms(lowered):
        sr, sc, t = {"os": (m, n, k), "ws": (k, n, m), "is": (k, m, n)}[df]
        want += math.ceil(sr / R) * math.ceil(sc / C) * (t + (0 if df == "os" else R)
                                                          + R + C - 2) - 1
    assert ours["compute_cycles"] == want


def test_cfg_overrides_and_api(capsys):
    arch = accelsim.load_arch(CFG, overrides=["units.sa.rows=64"])
    assert arch.units["sa"].config.rows == 64
    res = accelsim.simulate(str(CFG), str(TOPO), fidelity="analytical")
    assert res.cycles > 0 and res.workload == "resnet_3layers"
    assert main(["validate", str(CFG)]) == 0
    assert "scalesim_example_32x32_os" in capsys.readouterr().out


def test_user_bandwidth_mode_sums_the_three_channels(tmp_path):
    body = CFG.read_text().replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER")
    p = tmp_path / "user.cfg"
    p.write_text(body.replace("FilterSRAMBankBandwidth: 10", "FilterSRAMBankBandwidth: 20"))
    assert accelsim.load_arch(p).dram_bytes_per_cycle == 10 + 10 + 20  # ifmap+filter+ofmap
    v2 = "\n".join(line for line in body.splitlines() if not line.startswith(("[layout]",
                   "Ifmap", "Filter")) or line.startswith(("IfmapSram", "FilterSram",
                                                             "IfmapOffset", "FilterOffset")))
    p.write_text(v2)
    assert accelsim.load_arch(p).dram_bytes_per_cycle == 30  # SCALE-Sim 2: Bandwidth for all


def _cfg_with(old: str, new: str) -> str:
    text = CFG.read_text()
    assert old in text
    return text.replace(old, new, 1)


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("old, new, where, needle", [
    ("Dataflow : os", "Dataflow : os\nArrayHieght: 8", "ArrayHieght",
     "[architecture_presets] ArrayHieght: unknown key 'ArrayHieght' in [architecture_presets]; "
     "did you mean 'ArrayHeight'?"),
    ("[sparsity]", "[sparsty]", "[sparsty]", "[sparsty]: unknown section [sparsty]; did you "
                                             "mean 'sparsity'?"),
    ("MemoryBanks:   1", "MemoryBanks:   1\nmemorybanks = 2", "memorybanks = 2",
     "[architecture_presets] memorybanks: duplicate key (first on line"),
    ("Dataflow : os", "Dataflow : xs", "Dataflow", "unknown dataflow 'xs'"),
    ("ArrayWidth:     32", "ArrayWidth:     32.5", "ArrayWidth", "[architecture_presets] "
                                                                 "ArrayWidth: must be a positive "
                                                                 "integer, got '32.5'"),
    ("ArrayHeight:    32", "ArrayHeight:    0", "ArrayHeight", "must be a positive integer"),
    ("SparsitySupport : false", "SparsitySupport : true", "SparsitySupport",
     "accelsim does not model SCALE-Sim's sparse arrays"),
    ("UseRamulatorTrace: False", "UseRamulatorTrace: maybe", "UseRamulatorTrace",
     "must be True or False, got 'maybe'"),
    ("InterfaceBandwidth: CALC", "InterfaceBandwidth: FAST", "InterfaceBandwidth",
     "must be CALC or USER, got 'FAST'"),
    ("[general]", "ArrayHeight = 4\n[general]", "ArrayHeight = 4", "before any [section]"),
    ("[general]", "just some words\n[general]", "just some words", "expected '[section]'"),
])
def test_cfg_errors_name_file_line_section_and_key(tmp_path, capsys, old, new, where, needle):
    p = tmp_path / "scale.cfg"
    text = _cfg_with(old, new)
    p.write_text(text)
    fails(capsys, ["run", p, TOPO], f"error: {p}:{_line(text, where)}", needle)


def test_cfg_missing_keys(tmp_path, capsys):
    p = tmp_path / "scale.cfg"
    p.write_text(_cfg_with("OfmapSramSzkB:   1024\n", ""))
    fails(capsys, ["run", p, TOPO], "[architecture_presets] OfmapSramSzkB: missing required key")
    p.write_text(_cfg_with("Bandwidth : 10\n", "").replace("CALC", "USER"))
    fails(capsys, ["validate", p], "missing required key 'Bandwidth'")


# --------------------------------------------------------------------------- Hugging Face inputs

TINY_LLAMA = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 256,
              "intermediate_size": 688, "num_attention_heads": 8, "num_key_value_heads": 4,
              "num_hidden_layers": 2, "vocab_size": 1000, "max_position_embeddings": 4096}


@pytest.fixture
def hf_cache(tmp_path, monkeypatch):
    """A fake Hugging Face cache (HF_HOME) holding acme/tiny-llama at two revisions."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    repo = tmp_path / "hf" / "hub" / "models--acme--tiny-llama"
    for rev, layers in (("0123abcd", 2), ("fedc9876", 3)):
        (repo / "snapshots" / rev).mkdir(parents=True)
        (repo / "snapshots" / rev / "config.json").write_text(
            json.dumps(dict(TINY_LLAMA, num_hidden_layers=layers)))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    return tmp_path / "hf" / "hub"


def test_hf_id_from_the_local_cache(hf_cache, capsys):
    tr = accelsim.load_workload("acme/tiny-llama", batch=2, ctx=128)
    assert tr.name == "tiny-llama-decode-b2-ctx128"
    assert tr.segments[1].repeat == 2  # refs/main's revision (2 layers), not the newer snapshot
    d = run_json(capsys, HBM, "acme/tiny-llama", "--batch", "2", "--ctx", "128")
    assert d["cycles"] > 0 and d["per_op"]
    assert main(["workload", "show", "acme/tiny-llama"]) == 0
    assert "tiny-llama" in capsys.readouterr().out


def test_unknown_hf_id_says_where_it_looked(hf_cache, capsys):
    err = fails(capsys, ["run", HBM, "acme/missing-model"], "not in the Hugging Face cache",
                hf_cache / "models--acme--missing-model")
    assert err.count("\n") == 1
    with pytest.raises(AccelsimError, match="models--nosuchmodel"):
        accelsim.load_workload("nosuchmodel")


def test_model_folder_and_config_json(tmp_path, capsys):
    d = tmp_path / "my-llama"
    d.mkdir()
    (d / "config.json").write_text(json.dumps(TINY_LLAMA))
    assert accelsim.load_workload(d).name == "my-llama-decode-b1-ctx2048"
    assert accelsim.load_workload(str(d / "config.json"), phase="prefill", prompt=64).name == \
        "my-llama-prefill-b1-p64"
    assert run_json(capsys, HBM, d, "--phase", "prefill", "--prompt", "32")["cycles"] > 0
    empty = tmp_path / "empty"
    empty.mkdir()
    fails(capsys, ["run", HBM, empty], f"{empty}: is a folder without a config.json")
    with pytest.raises(ConfigError, match="is a Hugging Face model config, not a trace"):
        load_trace(d / "config.json")


def test_simulate_takes_workload_strings():
    arch = accelsim.load_arch(HBM)
    res = accelsim.simulate(arch, "llama2-7b", fidelity="analytical")
    ref = accelsim.simulate(arch, accelsim.load_workload("llama2-7b"), fidelity="analytical")
    assert res.cycles == ref.cycles and res.workload == "llama2-7b-decode-b1-ctx2048"
    yaml_trace = ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml"
    assert accelsim.simulate(arch, yaml_trace, fidelity="analytical").cycles > 0
    with pytest.raises(AccelsimError, match="unknown model 'llama2-7bb'; did you mean"):
        accelsim.simulate(arch, "llama2-7bb")
    with pytest.raises(AccelsimError, match="got int"):
        accelsim.simulate(arch, 7)
    with pytest.raises(AccelsimError, match="unknown model option"):
        accelsim.load_workload("llama2-7b", batchsize=4)
    with pytest.raises(AccelsimError, match="apply to model workloads"):
        accelsim.load_workload(yaml_trace, batch=4)


# --------------------------------------------------------------------------- packaging

def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_extras():
    proj = _pyproject()["project"]
    extras = proj["optional-dependencies"]
    torch = next(r for r in extras["trace"] if r.startswith("torch"))
    assert "==" not in torch and "<" in torch
    for pkg in ("nbclient", "nbformat", "ipykernel", "matplotlib"):
        assert any(r.startswith(pkg) for r in extras["notebook"]), pkg
    assert not any(r.startswith("optuna") for r in proj["dependencies"])
    assert any(r.startswith("optuna") for r in extras["dse"])
    # .ci/run installs the README's extras; everything the suite imports must be among them
    ci = (ROOT / ".ci" / "run").read_text()
    assert "'.[test,trace,ray]'" in ci
    for pkg in ("pytest", "optuna", "nbclient", "nbformat", "ipykernel"):
        assert any(r.startswith(pkg) for r in extras["test"]), pkg


def test_optuna_is_imported_only_by_the_optimiser(tmp_path):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"name: t\narchs:\n  sa: {{path: {HBM}}}\nworkloads:\n"
                   f"  w: {{model: llama2-7b}}\naxes:\n  units.sa.rows: [64, 128]\n"
                   f"objectives: {{latency_s: min}}\nstrategy: {{kind: optuna, budget: 4}}\n")
    code = (
        "import sys; sys.modules['optuna'] = None\n"
        "import accelsim, accelsim.cli, accelsim.dse, accelsim.dse.strategies\n"
        "from accelsim.cli import main\n"
        f"rc = main(['sweep', {str(exp)!r}, '--dry-run'])\n"
        "print('RC', rc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, cwd=ROOT)
    assert "RC 2" in out.stdout, out
    assert "strategy.kind: the optuna strategy needs the optuna package" in out.stderr
    assert "pip install 'accelsim[dse]'" in out.stderr and "Traceback" not in out.stderr


def test_wheel_data_files_cover_configs_and_examples():
    import runpy
    from accelsim.examples import example_files
    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="not_main")  # setup() not called
    shipped = {}
    for dest, files in setup["data_files"]():
        for f in files:
            shipped[f] = dest
    for f in example_files(ROOT):  # what `accelsim examples` copies, where it looks for it
        assert shipped.get(f.as_posix()) == f"share/accelsim/{f.parent.as_posix()}", f
    zoo = sorted(p.name for p in (ROOT / "workloads" / "models").glob("*.json"))
    assert zoo and all(shipped.get(f"workloads/models/{n}") == "share/accelsim/models"
                       for n in zoo)
    assert "data-files" not in _pyproject()["tool"]["setuptools"]  # setup.py owns them


def test_examples_command_copies_a_working_starting_point(tmp_path, capsys, monkeypatch):
    dest = tmp_path / "start"
    assert main(["examples", str(dest)]) == 0
    assert "copied" in capsys.readouterr().out
    for f in ("configs/scalesim/examples/scale.cfg", "configs/scalesim/base.yaml",
              "workloads/examples/gemm_topology.csv", "experiments/example_small.yaml"):
        assert (dest / f).is_file(), f
    monkeypatch.chdir(dest)
    d = run_json(capsys, "configs/scalesim/examples/scale.cfg",
                 "configs/scalesim/examples/resnet_3layers.csv")
    assert d["cycles"] > 0
    assert run_json(capsys, "configs/scalesim/sa32_ws.yaml",
                    "workloads/examples/gemm_topology.csv")["cycles"] > 0
    fails(capsys, ["examples", dest], "already exist", "--force")
    assert main(["examples", str(dest), "--force"]) == 0
