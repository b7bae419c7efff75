"""Big inputs at small sizes (issue 17): the fast JSON trace path reads exactly what the YAML
path reads, and reports every bad op with the same message, key path and line; the serving
bounds on the command line. The big sizes are measured by benchmarks/bench_hardening.py."""
from __future__ import annotations

import copy
import json
import re

import pytest

from accelsim.cli import main
from accelsim.config import load_yaml
from accelsim.config.files import MAX_INPUT_BYTES
from accelsim.config.jsonfast import JsonDoc, load_json_doc
from accelsim.errors import ConfigError
from accelsim.workload import load_trace
from accelsim.workload.traceio import trace_from_doc

OPS = [
    {"name": "a", "kind": "gemm", "m": 8, "n": 16, "k": 32, "dtype": "int8", "b_shared": True,
     "tags": {"layer": 0, "scale": 1.5, "big": "@1e3", "exp": "@1.0e+3", "e2": "@2.5E-1", "t": True}},
    {"name": "b", "kind": "vector", "op": "softmax", "rows": 8, "cols": 16},
    {"name": "c", "kind": "attention", "batch": 2, "heads": 4, "kv_heads": 2, "q_len": 1,
     "kv_len": 64, "head_dim": 16, "deps": ["a"], "causal": None},
    {"name": 7, "kind": "gemm", "m": 1, "n": 2, "k": 3, "deps": [], "group_size": 2,
     "w_dtype": "int4"},
]


def doc(ops=None, **top) -> dict:
    d = {"name": "t", "meta": {"source": "test", "ratio": 0.25}, "segments": [
        {"name": "s0", "repeat": 3, "ops": copy.deepcopy(ops if ops is not None else OPS)},
        {"name": "s1", "ops": [{"name": "x", "kind": "vector", "op": "add", "rows": 2,
                                "cols": 2}]}]}
    d.update(top)
    return d


def write(tmp_path, data, name="t.json", indent=1) -> str:
    p = tmp_path / name
    if not isinstance(data, str):  # "@1e3" stands for the number as written: 1e3
        data = re.sub(r'"@([^"]*)"', r"\1", json.dumps(data, indent=indent))
    p.write_text(data)
    return str(p)


def slow(path: str):
    """The YAML path, which records every line (what every trace took before)."""
    return trace_from_doc(load_yaml(path, max_bytes=MAX_INPUT_BYTES))


def outcome(fn, path):
    try:
        return fn(path)
    except ConfigError as e:
        return ("error", str(e))


@pytest.mark.parametrize("indent", [None, 1, 4])
def test_fast_path_reads_what_the_yaml_path_reads(tmp_path, indent):
    path = write(tmp_path, doc(), indent=indent)
    assert isinstance(load_json_doc(open(path, "rb").read(), path), JsonDoc)
    fast, ref = load_trace(path), slow(path)
    assert fast == ref
    # YAML 1.1 reads 1e3 as text and 1.0e+3 as a number: so does the fast path
    assert dict(fast.segments[0].ops[0].tags) == {"layer": "0", "scale": "1.5", "big": "1e3",
                                                  "exp": "1000.0", "e2": "0.25",
                                                  "t": "True"}


def mutations():
    """(label, function changing the document) for bad ops anywhere in a trace."""
    def op(i, **kv):
        def f(d):
            for k, v in kv.items():
                if v is KeyError:
                    del d["segments"][0]["ops"][i][k]
                else:
                    d["segments"][0]["ops"][i][k] = v
        return f
    return [
        ("wrong type", op(2, head_dim="64")),
        ("bool as int", op(0, m=True)),
        ("float as int", op(0, m="@1e3")),
        ("float as int 1", op(0, m="@4.0")),
        ("float as int 2", op(0, n=2.5)),
        ("negative", op(1, rows=-4)),
        ("unknown key", op(1, colz=3)),
        ("unknown kind", op(1, kind="vectr")),
        ("missing kind", op(1, kind=KeyError)),
        ("missing name", op(1, name=KeyError)),
        ("list name", op(0, name=["a"])),
        ("mapping tags", op(0, tags={"x": [1]})),
        ("bad dep", op(2, deps=["zz"])),
        ("dep list item", op(2, deps=[{"a": 1}])),
        ("duplicate name", op(1, name="a")),
        ("unknown dtype", op(0, dtype="int9")),
        ("kv_heads", op(2, kv_heads=3)),
        ("too big", op(0, m=2 ** 62)),
        ("op not a mapping", lambda d: d["segments"][0]["ops"].insert(1, [1, 2])),
        ("repeat", lambda d: d["segments"][0].__setitem__("repeat", "3")),
        ("repeat bound", lambda d: d["segments"][0].__setitem__("repeat", 10 ** 12)),
        ("segment key", lambda d: d["segments"][1].__setitem__("rep", 1)),
        ("empty ops", lambda d: d["segments"][1].__setitem__("ops", [])),
        ("top key", lambda d: d.__setitem__("nme", "x")),
        ("meta list", lambda d: d.__setitem__("meta", ["x"])),
        ("both", lambda d: d.__setitem__("ops", [])),
        ("segments not a list", lambda d: d.__setitem__("segments", {"a": 1})),
    ]


@pytest.mark.parametrize("label,change", mutations(), ids=[m[0] for m in mutations()])
def test_bad_op_same_located_error_on_both_paths(tmp_path, label, change):
    d = doc()
    change(d)
    path = write(tmp_path, d)
    fast, ref = outcome(load_trace, path), outcome(slow, path)
    assert isinstance(fast, tuple), (label, fast)
    assert fast == ref
    assert f"{path}:" in fast[1]  # a line is named


def test_error_in_the_last_of_many_ops_is_located(tmp_path):
    ops = [{"name": f"g{i}", "kind": "gemm", "m": 4, "n": 4, "k": 4} for i in range(3000)]
    ops[-1]["k"] = 0
    path = write(tmp_path, {"name": "many", "ops": ops})
    err = outcome(load_trace, path)
    assert err == outcome(slow, path)
    assert "ops.2999.k" in err[1]


@pytest.mark.parametrize("text,needle", [
    ('{"name": "t", "name": "u", "ops": [{"name": "a", "kind": "gemm"}]}', "duplicate key"),
    ('{"name": "t", "ops": [{"name": "a", "kind": "gemm", "m": NaN}]}', "must be"),
    ('{"name": "t", "ops": [{"name": "a", "kind": "gemm", "m": 4,}]}', ""),
    ('{"name": "t", "ops": [{"name": "a\\ud800", "kind": "gemm"}]}', ""),
    ('["a", "b"]', "top level must be a mapping"),
    ('', "empty"),
])
def test_what_the_fast_path_declines_goes_to_the_yaml_path(tmp_path, text, needle):
    path = write(tmp_path, text)
    assert load_json_doc(text.encode(), path) is None
    got = outcome(load_trace, path)
    assert got == outcome(lambda p: trace_from_doc(load_yaml(p, max_bytes=MAX_INPUT_BYTES)),
                          path)
    if needle:
        assert got[0] == "error" and needle in got[1], got


def test_run_reads_a_json_trace_from_the_cli(tmp_path, capsys):
    ops = [{"name": f"g{i}", "kind": "gemm", "m": 16, "n": 64, "k": 64} for i in range(200)]
    path = write(tmp_path, {"name": "many", "ops": ops})
    out = tmp_path / "r.json"
    hbm = str(__import__("conftest").ROOT / "configs" / "sa128_bf16_hbm.yaml")
    assert main(["run", hbm, path, "--json", str(out)]) == 0
    ref = tmp_path / "ref.yaml"
    ref.write_text(json.dumps({"name": "many", "ops": ops}))  # the same trace, YAML path
    out2 = tmp_path / "r2.json"
    assert main(["run", hbm, str(ref), "--json", str(out2)]) == 0
    a, b = json.loads(out.read_text()), json.loads(out2.read_text())
    assert a["latency_s"] == b["latency_s"] and a["energy_j"] == b["energy_j"]


# ---------------------------------------------------------------------------- serving bounds (CLI)

def serving_cli(capsys, tmp_path, reqs, *flags):
    from accelsim.workload.requests import save_requests
    from conftest import ROOT
    csv = tmp_path / "reqs.csv"
    save_requests(reqs, csv)
    code = main(["run", str(ROOT / "configs" / "sa128_bf16_hbm.yaml"), "llama2-7b",
                 "--requests", str(csv), "--json", "-", *map(str, flags)])
    return code, capsys.readouterr()


def test_serving_bound_options_on_the_cli(tmp_path, capsys, monkeypatch):
    from accelsim.workload.requests import Request
    reqs = [Request(0, 0.0, 8, 2), Request(1, 100.0, 8, 2)]  # 4 iterations, 2 simulated
    code, out = serving_cli(capsys, tmp_path, reqs, "--max-iterations", 4, "--max-simulated", 2,
                            "--max-tokens", 4)
    assert code == 0, out.err
    assert json.loads(out.out)["iterations"] == 4
    for flag, n, what in (("--max-iterations", 3, "more than 3 scheduler iterations"),
                          ("--max-simulated", 1, "more than 1 distinct simulated"),
                          ("--max-tokens", 3, "more than 3 generated tokens")):
        code, out = serving_cli(capsys, tmp_path, reqs, flag, n)
        assert code == 2, (flag, out)
        assert out.err.startswith("error: ") and what in out.err and "Traceback" not in out.err
        assert f"{flag} N" in out.err  # the message names the option that raises it
    # the option wins over the environment variable, which stays the default
    monkeypatch.setenv("ACCELSIM_SERVING_MAX_ITERATIONS", "3")
    assert serving_cli(capsys, tmp_path, reqs)[0] == 2
    assert serving_cli(capsys, tmp_path, reqs, "--max-iterations", "1_000")[0] == 0


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many", "", "1e3", "٣",
                                   str(2 ** 62 + 1), "9" * 40])
def test_serving_bound_options_refuse_bad_values(capsys, value):
    from conftest import ROOT
    for flag in ("--max-iterations", "--max-simulated", "--max-tokens"):
        with pytest.raises(SystemExit) as e:
            main(["run", str(ROOT / "configs" / "sa128_bf16_hbm.yaml"), "llama2-7b",
                  "--requests", "x.csv", f"{flag}={value}"])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert f"argument {flag}: must be" in err and "Traceback" not in err, err


def test_serving_bound_options_need_requests(capsys):
    from conftest import ROOT
    code = main(["run", str(ROOT / "configs" / "sa128_bf16_hbm.yaml"), "llama2-7b",
                 "--max-tokens", "5", "--max-simulated", "2"])
    err = capsys.readouterr().err
    assert code == 2 and "--max-simulated, --max-tokens bound a serving run" in err, err


def test_serving_bound_help_names_the_built_in_defaults():
    import argparse

    import accelsim.workload.serving as serving
    from accelsim.workload.commands import add_run_args
    p = argparse.ArgumentParser()
    add_run_args(p)
    helps = {a.dest: a.help for a in p._actions}
    assert f"{serving.MAX_ITERATIONS:,}" in helps["max_iterations"]
    assert f"{serving.MAX_SIMULATED:,}" in helps["max_simulated"]
    assert f"{serving.MAX_OUTPUT_TOKENS:,}" in helps["max_tokens"]


def test_lowering_rewires_deps_without_rebuilding_ops():
    import dataclasses

    from accelsim.workload import zoo
    from accelsim.workload.trace import _with_deps
    t = zoo.build_trace("mixtral-8x7b", phase="decode", batch=4, ctx=256)
    for s in t.segments:
        for op in s.ops:
            for deps in ((), ("x", "y")):
                fast, ref = _with_deps(op, deps), dataclasses.replace(op, deps=deps)
                assert fast == ref and type(fast) is type(ref) and fast.cost_key() == ref.cost_key()
                assert op.deps != deps or op.deps == fast.deps  # the original is untouched
    lowered = t.lowered()
    assert lowered == t.lowered() and lowered.num_ops() > t.num_ops()


def test_run_json_is_written_in_pieces_with_the_same_bytes(tmp_path, capsys):
    from accelsim.cli import _write_json
    data = {"name": "x", "ops": [{"op": f"o{i}", "t": i / 7, "n": None, "ok": i % 2 == 0,
                                  "nested": {"a": [1, 2.5, "é"]}} for i in range(20_000)]}
    want = json.dumps(data, indent=1) + "\n"
    _write_json(data, str(tmp_path / "o.json"))
    assert (tmp_path / "o.json").read_text() == want  # > 65,536 chunks: several pieces
    _write_json(data, "-")
    assert capsys.readouterr().out == want
    _write_json({}, "-")
    assert capsys.readouterr().out == "{}\n"
