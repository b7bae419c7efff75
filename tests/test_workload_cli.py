"""CLI: workload list/show/requests, run with a zoo model or a request trace, and errors."""
from __future__ import annotations

import json

import pytest

from accelsim.cli import main
from accelsim.workload import list_models
from accelsim.workload.requests import load_requests

from conftest import ROOT

HBM = str(ROOT / "configs" / "sa128_bf16_hbm.yaml")
REQS = str(ROOT / "workloads" / "requests" / "alpaca_200_rate8.csv")


def test_workload_list(capsys):
    assert main(["workload", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in list_models())
    assert "8 (top-2)" in out and "1.58/int8" in out


def test_workload_show_prints_the_op_table(capsys):
    assert main(["workload", "show", "llama2-7b", "--phase", "decode", "--batch", "16",
                 "--ctx", "2048"]) == 0
    out = capsys.readouterr().out
    for text in ("qkv_proj", "16x12288x4096 bf16*bf16", "b16 h32/32 q1 kv2048", "layers x32",
                 "FLOP/B", "per token (16 tokens)", "6,738,415,616"):
        assert text in out, text


def test_workload_show_json_and_save(tmp_path, capsys):
    out = tmp_path / "t.yaml"
    assert main(["workload", "show", "bitnet-b1.58-700m", "--phase", "prefill", "--prompt", "64",
                 "--save", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    gemm = next(op for op in d["segments"][1]["ops"] if op["name"] == "qkv_proj")
    assert (gemm["dtype"], gemm["w_dtype"]) == ("int8", "ternary")  # BitNet's native quantisation
    assert out.exists()


def test_run_zoo_model_decode_and_prefill(capsys):
    assert main(["run", HBM, "llama2-7b", "--phase", "decode", "--batch", "16", "--ctx", "2048",
                 "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["workload"] == "llama2-7b-decode-b16-ctx2048" and d["cycles"] > 0
    assert main(["run", HBM, "llama2-7b", "--phase", "prefill", "--batch", "1", "--prompt", "512",
                 "--weight-bits", "4", "--group-size", "128", "--json", "-"]) == 0
    p = json.loads(capsys.readouterr().out)
    assert p["workload"] == "llama2-7b-prefill-b1-p512" and p["flops"] > d["flops"]


def test_run_config_json_path(capsys):
    cfg = str(ROOT / "workloads" / "models" / "opt-6.7b.json")
    assert main(["run", HBM, cfg, "--batch", "4", "--ctx", "128", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["workload"] == "opt-6.7b-decode-b4-ctx128"


def test_run_serving_trace(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["run", HBM, "llama2-7b", "--requests", REQS, "--max-batch", "32",
                 "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "time to first token" in text and "throughput" in text
    s = json.loads(out.read_text())
    assert s["requests"] == len(load_requests(REQS)) and s["throughput_tok_s"] > 0
    assert s["settings"]["max_batch"] == 32


def test_workload_requests_command(tmp_path, capsys):
    p = tmp_path / "r.csv"
    assert main(["workload", "requests", "-o", str(p), "-n", "30", "--dist", "alpaca",
                 "--rate", "3", "--seed", "1"]) == 0
    assert "wrote 30 requests" in capsys.readouterr().out
    assert len(load_requests(p)) == 30


@pytest.mark.parametrize("args, expect", [
    (["workload", "show", "llama-2-7b"], "did you mean 'llama2-7b'"),
    (["run", HBM, "opt-7b"], "unknown model 'opt-7b'"),
    (["workload", "show", "llama2-7b", "--weight-bits", "5"], "weight_bits must be one of"),
    (["workload", "show", "mixtral-8x7b", "--moe-dist", "1,2"], "must be 8 non-negative"),
    (["run", HBM, "llama2-7b", "--ctx", "9000"], "exceeds the model's max_position_embeddings"),
    (["run", HBM, "llama2-7b", "--requests", "nope.csv"], "nope.csv: file not found"),
    (["run", HBM, str(ROOT / "workloads/examples/llama2_7b_decode_b16.yaml"), "--requests", REQS],
     "--requests needs a model as WORKLOAD"),
    (["workload", "requests", "-o", "x.csv", "--dist", "zipf"], "unknown length distribution"),
])
def test_errors_are_one_message(args, expect, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expect in err and "Traceback" not in err


def test_bad_config_json_error_names_key(tmp_path, capsys):
    cfg = json.loads((ROOT / "workloads" / "models" / "llama2-7b.json").read_text())
    cfg["num_key_value_heads"] = 7
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg, indent=2))
    assert main(["workload", "show", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}:" in err and "num_key_value_heads: num_key_value_heads (7) must divide" in err
