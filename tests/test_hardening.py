"""Bad input fed to the command line ends in ONE clear error naming the file (and key or line),
a non-zero exit, no traceback and no "internal error" (issue 17: the classes below)."""
from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
import time

import pytest

from accelsim.cli import EXIT_BROKEN_PIPE, main
from accelsim.config.files import MAX_CONFIG_BYTES
from accelsim.errors import AccelsimError

from conftest import ROOT
from dse_util import write_exp

HBM = str(ROOT / "configs" / "sa128_bf16_hbm.yaml")
LLAMA = str(ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml")
GEMM = '{"name": "a", "kind": "gemm", "m": 8, "n": 8, "k": 8}'
SMALL = "axes:\n  units.sa.rows: [64, 128]\nobjectives: {latency_s: min}\n"


def fails(capsys, argv, *needles, code=2):
    """Run the CLI in-process; it must fail with one clean ``error:`` block naming ``needles``."""
    t0 = time.perf_counter()
    assert main([str(a) for a in argv]) == code
    assert time.perf_counter() - t0 < 20
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("error: ") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    for n in needles:
        assert str(n) in err, (n, err)
    return err


def arg_error(capsys, argv, *needles):
    """An argparse error: exit status 2 and ``argument ...`` on stderr, nothing run."""
    with pytest.raises(SystemExit) as exc:
        main([str(a) for a in argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    for n in needles:
        assert n in err, (n, err)


def cli(*argv, timeout=60, **kw):
    """The CLI in a subprocess (for pipes and files that could hang a reader)."""
    return subprocess.run([sys.executable, "-m", "accelsim.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kw)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A tiny finished sweep (two points), for the commands that read a store."""
    tmp = tmp_path_factory.mktemp("hard")
    exp = write_exp(tmp, SMALL)
    assert main(["sweep", str(exp), "--store", str(tmp / "s"), "--workers", "1",
                 "--no-progress"]) == 0
    return tmp / "s"


# --------------------------------------------------------------------------- 1. closed pipe

class _ClosedPipe(io.TextIOBase):
    def write(self, s):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("argv", [["list"], ["run", HBM, LLAMA], ["run", HBM, LLAMA, "--json", "-"]])
def test_output_into_a_closed_pipe_exits_quietly(argv, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(argv) == EXIT_BROKEN_PIPE
    assert capsys.readouterr().err == ""


def test_piped_into_head_exits_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "accelsim.cli", "run", HBM, LLAMA, "--json",
                             "-"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, EXIT_BROKEN_PIPE)
    assert err == ""


# --------------------------------------------------------------------------- 2. portable lock

def test_no_module_level_fcntl_and_import_without_it():
    for path in (ROOT / "accelsim").rglob("*.py"):
        for node in ast.parse(path.read_text()).body:  # module level
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) else [])
            assert "fcntl" not in names, path
    # as on Windows: no fcntl module at all
    code = ("import sys; sys.modules['fcntl'] = None\n"
            "import accelsim.cli, accelsim.dse.store, accelsim.dse.runner\n"
            "accelsim.cli.build_parser(); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_store_lock_still_excludes_a_second_writer(store):
    from accelsim.dse.store import ResultStore, StoreError
    a = ResultStore(store)
    a.lock()
    try:
        with pytest.raises(StoreError, match="being written by another sweep"):
            ResultStore(store).lock()
    finally:
        a.unlock()
    b = ResultStore(store)
    b.lock()  # released: free again
    b.unlock()


# --------------------------------------------------------------------------- 3. config files

def test_extends_only_reads_config_files(tmp_path, capsys):
    secret = tmp_path / "notes.txt"
    secret.write_text("TOPSECRET: 1\nline two TOPSECRET\n")
    for target in ("/etc/passwd", secret):
        cfg = tmp_path / "c.yaml"
        cfg.write_text(f"extends: {target}\nname: x\n")
        err = fails(capsys, ["validate", cfg], f"{cfg}:1 extends:", "not a config file",
                    ".yaml, .yml or .json")
        assert "TOPSECRET" not in err and "root:" not in err
    cfg.write_text(f"extends: {tmp_path}.yaml\n")  # a folder with a config suffix
    (tmp_path.parent / f"{tmp_path.name}.yaml").mkdir()
    fails(capsys, ["validate", cfg], "extends:", "is a directory")


def test_a_non_config_is_never_echoed(tmp_path, capsys):
    for text in ("TOPSECRET one\nTOPSECRET two\n", "- TOPSECRET\n- TOPSECRET\n"):
        p = tmp_path / "x.yaml"
        p.write_text(text)
        err = fails(capsys, ["validate", p], f"{p}:1: top level must be a mapping")
        assert "TOPSECRET" not in err
    err = fails(capsys, ["validate", "/etc/passwd"], "/etc/passwd")
    assert "root:" not in err and "nologin" not in err


def test_experiment_arch_path_must_be_a_config_file(tmp_path, capsys):
    head = ("name: t\narchs:\n  sa: {path: /etc/passwd}\nworkloads:\n  w: {trace: tiny.yaml}\n")
    exp = write_exp(tmp_path, SMALL, head=head)
    err = fails(capsys, ["sweep", exp, "--dry-run"], f"{exp}:3 archs.sa.path",
                "not a config file")
    assert "root:" not in err and "nologin" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_special_files_as_configs_fail_fast(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    for target, needle in (("/dev/zero", "is not a regular file"), (fifo, "is not a regular file"),
                           (tmp_path, "is a directory")):
        t0 = time.perf_counter()
        out = cli("validate", target, timeout=30)
        assert time.perf_counter() - t0 < 30
        assert out.returncode == 2 and out.stderr.startswith(f"error: {target}: {needle}"), \
            out.stderr
        assert "Traceback" not in out.stderr


def test_huge_config_is_refused_by_size(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"name: x\n" + b"# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    fails(capsys, ["validate", big], f"{big}:", "more than the 4 MiB")
    child = tmp_path / "child.yaml"
    child.write_text("extends: big.yaml\n")
    fails(capsys, ["validate", child], f"{child}:1 extends:", "more than the 4 MiB")


# --------------------------------------------------------------------------- 4. encodings

@pytest.mark.parametrize("name, data, needle", [
    ("bin.csv", b"a,1,2,3\n\x00\x01\x02binary", "binary file"),
    ("latin1.csv", "name,M,N,K\nqkv,1,2,3\nb\xe9ta,1,2,3\n".encode("latin-1"), "not UTF-8 text"),
    ("bin.json", bytes(range(256)) * 8, "bin.json"),
    ("latin1.yaml", "name: b\xe9ta\nops: []\n".encode("latin-1"), "latin1.yaml"),
])
def test_undecodable_traces_name_the_file(tmp_path, capsys, name, data, needle):
    p = tmp_path / name
    p.write_bytes(data)
    err = fails(capsys, ["run", HBM, p, "--quiet"], f"error: {p}", needle)
    assert "UnicodeDecodeError" not in err


def test_undecodable_request_trace_names_file_and_line(tmp_path, capsys):
    p = tmp_path / "req.csv"
    p.write_bytes(b"arrival_s,prompt_tokens,output_tokens\n0,16,4\n\xff\xfe,1,1\n")
    fails(capsys, ["run", HBM, "llama2-7b", "--requests", p], f"{p}:3:", "not UTF-8 text")
    p.write_bytes(b"\x00\x00\x00\x01" * 100)
    fails(capsys, ["run", HBM, "llama2-7b", "--requests", p], f"{p}:1:", "binary file")


def test_undecodable_hf_config_and_manifest(tmp_path, capsys, store):
    d = tmp_path / "m"
    d.mkdir()
    (d / "config.json").write_bytes(b'{"model_type": "llama", "x": "\xff"}')
    fails(capsys, ["run", HBM, d / "config.json", "--quiet"], f"{d / 'config.json'}")
    broken = tmp_path / "s"
    broken.mkdir()
    (broken / "manifest.json").write_bytes(b"\x89PNG\x00\xff")
    fails(capsys, ["pareto", broken], "manifest.json: not a readable store manifest")


# --------------------------------------------------------------------------- 5. output paths

def test_output_files_in_missing_folders_or_folders_fail_before_work(tmp_path, capsys, store):
    missing = tmp_path / "nope" / "r.json"
    fails(capsys, ["run", HBM, LLAMA, "--json", tmp_path], f"{tmp_path}: is a directory",
          "--json")
    fails(capsys, ["run", HBM, LLAMA, "--json", missing], f"{missing}: folder", "does not exist")
    fails(capsys, ["run", HBM, LLAMA, "--trace", missing, "--quiet"], "--trace")
    fails(capsys, ["gemm", HBM, "--m", 8, "--n", 8, "--k", 8, "--json", missing], str(missing))
    fails(capsys, ["pareto", store, "--json", tmp_path], "is a directory")
    fails(capsys, ["report", store, "--output", missing], str(missing), "does not exist")
    fails(capsys, ["plot", store, "pareto", "-o", missing], str(missing), "does not exist")
    assert not (tmp_path / "nope").exists()


def test_store_folder_is_created_but_not_over_a_file(tmp_path, capsys):
    exp = write_exp(tmp_path, SMALL)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    fails(capsys, ["sweep", exp, "--store", a_file], f"{a_file}: is a file", "--store")
    fails(capsys, ["sweep", exp, "--store", a_file / "s"], "is a file", "--store")
    nested = tmp_path / "a" / "b" / "store"  # documented: created with its parents
    assert main(["sweep", str(exp), "--store", str(nested), "--workers", "1", "--no-progress",
                 "--json", str(tmp_path / "rep.json")]) == 0
    assert (nested / "manifest.json").is_file()
    assert json.loads((tmp_path / "rep.json").read_text())["evaluated"] == 2


def test_help_documents_output_paths(capsys):
    for argv in (["run", "--help"], ["sweep", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
    out = " ".join(capsys.readouterr().out.split())
    assert "its folder must exist" in out
    assert "created, with missing parent folders" in out


# --------------------------------------------------------------------------- 6. sweeps

@pytest.mark.parametrize("flag, value", [("--workers", "0"), ("--workers", "-2"),
                                         ("--chunk-size", "0"), ("--chunk-size", "-1"),
                                         ("--workers", "two")])
def test_sweep_counts_must_be_positive(tmp_path, capsys, flag, value):
    exp = write_exp(tmp_path, SMALL)
    arg_error(capsys, ["sweep", exp, flag, value, "--store", tmp_path / "s"],
              f"argument {flag}")
    assert not (tmp_path / "s").exists()


def test_run_sweep_api_checks_counts(tmp_path):
    from accelsim.dse import run_sweep
    exp = write_exp(tmp_path, SMALL)
    for kw in ({"workers": 0}, {"chunk_size": -1}):
        with pytest.raises(AccelsimError, match=">= 1"):
            run_sweep(exp, tmp_path / "s", **kw)


@pytest.mark.parametrize("body, key, needle", [
    ("derived:\n  units.sa.cols: '2 ** 2 ** 40'\n", "derived.units.sa.cols", "too large"),
    ("derived:\n  units.sa.cols: 'units.sa.rows ** 10 ** 12'\n", "derived.units.sa.cols",
     "too large"),
    ("constraints: [\"'a' * 10 ** 12 == 'b'\"]\n", "constraints.0", "too large"),
    ("constraints: [\"'%0999999999d' % 5 == 'b'\"]\n", "constraints.0", "does not format"),
    ("constraints: ['round(units.sa.rows, -10 ** 9) > 0']\n", "constraints.0", "out of range"),
    ("derived_metrics: {x: '9 ** 9 ** 9 * latency_s'}\n", "derived_metrics.x", "too large"),
    ("derived_metrics: {x: '" + "(" * 300 + "latency_s" + ")" * 300 + "'}\n",
     "derived_metrics.x", "nested"),
])
def test_expression_bombs_are_refused_quickly(tmp_path, capsys, body, key, needle):
    exp = write_exp(tmp_path, SMALL + body)
    fails(capsys, ["sweep", exp, "--dry-run"], f"{exp}:", key, needle)


@pytest.mark.parametrize("where, needle", [("2 ** 2 ** 40 > 1", "too large"),
                                           ("units.sa.rows ** 10 ** 12 > 1", "too large"),
                                           ("'a' * 10 ** 12 == base", "too large")])
def test_where_bombs_are_refused(store, capsys, where, needle):
    fails(capsys, ["pareto", store, "--where", where], "--where:", needle)
    fails(capsys, ["report", store, "--where", where], "--where:", needle)


@pytest.mark.parametrize("axes, needle", [
    ("".join(f"  {p}: {{range: [1, 1000, 1]}}\n" for p in (
        "units.sa.rows", "units.sa.cols", "memory.dram.bandwidth_gb_s", "units.sa.sram.ifmap_kb",
        "units.sa.sram.filter_kb", "units.sa.sram.ofmap_kb")),
     "1,000,000,000,000,000,000 points"),
    ("  units.sa.rows: {range: [1, 1e12, 1]}\n", "more than the 1,000,000 an axis may have"),
    ("  units.sa.rows: {range: [1, .nan, 1]}\n", "finite"),
    ("  units.sa.rows: {range: [1, .inf, 1]}\n", "finite"),
    ("  units.sa.rows: {logrange: [1, 1e300], factor: 1.0000001}\n", "an axis may have"),
])
def test_huge_spaces_are_refused_up_front_with_the_count(tmp_path, capsys, axes, needle):
    exp = write_exp(tmp_path, "axes:\n" + axes)
    fails(capsys, ["sweep", exp, "--dry-run"], f"{exp}:", "axes", needle)


def test_a_space_too_large_for_a_grid_can_still_be_sampled(tmp_path, capsys):
    axes = "".join(f"  {p}: {{range: [8, 107, 1]}}\n" for p in (
        "units.sa.rows", "units.sa.cols", "units.sa.sram.ifmap_kb", "memory.dram.bandwidth_gb_s"))
    exp = write_exp(tmp_path, "axes:\n" + axes)
    fails(capsys, ["sweep", exp, "--dry-run"], "100,000,000 points", "strategy: {kind: random")
    exp = write_exp(tmp_path, "axes:\n" + axes + "strategy: {kind: random, samples: 2}\n")
    assert main(["sweep", str(exp), "--dry-run"]) == 0
    assert "2 points planned" in capsys.readouterr().out


# --------------------------------------------------------------------------- 7. wrong types

@pytest.mark.parametrize("doc, key, needle", [
    ('{"name": ["x"], "ops": [%s]}' % GEMM, "name", "must be a name"),
    ('{"meta": [1], "ops": [%s]}' % GEMM, "meta", "must be a mapping"),
    ('{"meta": {"a": [1]}, "ops": [%s]}' % GEMM, "meta.a", "single value"),
    ('{"ops": [{"name": ["a"], "kind": "gemm", "m": 8, "n": 8, "k": 8}]}', "ops.0.name",
     "must be a name"),
    ('{"ops": [{"name": "a", "kind": ["gemm"], "m": 8, "n": 8, "k": 8}]}', "ops.0.kind",
     "unknown op kind"),
    ('{"ops": [{"name": "a", "kind": {"x": 1}, "m": 8, "n": 8, "k": 8}]}', "ops.0.kind",
     "unknown op kind"),
    ('{"ops": [%s, {"name": "b", "kind": "gemm", "m": 8, "n": 8, "k": 8, "deps": [["a"]]}]}'
     % GEMM, "ops.1.deps", "list of earlier op names"),
    ('{"ops": [{"name": "a", "kind": "gemm", "m": 8, "n": 8, "k": 8, "tags": ["x"]}]}',
     "ops.0.tags", "must be a mapping"),
    ('{"ops": [{"name": "a", "kind": "gemm", "m": 8, "n": 8, "k": 8, "dtype": ["bf16"]}]}',
     "ops.0.dtype", "must be text"),
    ('{"ops": [{"name": "a", "kind": "gemm", "m": "8", "n": 8, "k": 8}]}', "ops.0.m",
     "must be an integer"),
    ('{"ops": [{"name": "a", "kind": "gemm", "m": 8, "n": 8, "k": 8, "b_shared": "yes"}]}',
     "ops.0.b_shared", "true or false"),
    ('{"ops": [{"name": "a", "kind": "vector", "op": ["silu"], "rows": 8, "cols": 8}]}',
     "ops.0.op", "must be text"),
    ('{"segments": [{"name": "s", "repeat": true, "ops": [%s]}]}' % GEMM, "segments.0.repeat",
     "positive integer"),
    ('{"segments": [{"name": {"a": 1}, "ops": [%s]}]}' % GEMM, "segments.0.name",
     "must be a name"),
])
def test_wrong_types_in_a_trace_are_located(tmp_path, capsys, doc, key, needle):
    p = tmp_path / "t.json"
    p.write_text(doc + "\n")
    fails(capsys, ["run", HBM, p, "--quiet"], f"{p}:1 {key}: ", needle)


HF = ('"model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, '
      '"num_attention_heads": 4, "intermediate_size": 128, "vocab_size": 100')


@pytest.mark.parametrize("extra, key, needle", [
    ('"architectures": 5', "architectures", "list of class names"),
    ('"architectures": [{"a": 1}]', "architectures", "list of class names"),
    ('"architectures": ["BitnetForCausalLM"], "weight_bits": "two"', "weight_bits",
     "positive number"),
    ('"hidden_act": ["silu"]', "hidden_act", "activation"),
    ('"num_key_value_heads": "4"', "num_key_value_heads", "positive integer"),
    ('"tie_word_embeddings": "yes"', "tie_word_embeddings", "true or false"),
])
def test_wrong_types_in_an_hf_config_are_located(tmp_path, capsys, extra, key, needle):
    d = tmp_path / "model"
    d.mkdir()
    p = d / "config.json"
    p.write_text("{" + HF + ", " + extra + "}\n")
    fails(capsys, ["run", HBM, p, "--quiet"], f"{p}:1 {key}: ", needle)
    p.write_text('{"model_type": ["llama"]}\n')
    fails(capsys, ["run", HBM, p, "--quiet"], f"{p}:1 model_type: ", "model family name")
