"""Model-zoo workloads and workload axes: against a stand-in that pins the zoo's contract
(``list_models()``, ``build_trace(model, *, phase, batch, ctx, prompt, weight_bits, act_dtype,
kv_bits, group_size, moe_dist, seed, head_dtype, check_ctx) -> Trace``), and against the real
zoo (accelsim.workload.zoo)."""
from __future__ import annotations

import json
import types

import pytest

import accelsim
from accelsim.dse import load_experiment, load_results, run_sweep
from accelsim.dse import workloads as wl_mod
from accelsim.errors import ConfigError

from dse_util import ARCH, LLAMA, ROOT, line_of, write_exp

CALLS: list[dict] = []


def _build_trace(model, *, phase="decode", batch=1, ctx=2048, prompt=512, weight_bits=16,
                 act_dtype="bf16", kv_bits=16, group_size=None, moe_dist="uniform", seed=0,
                 head_dtype=None, check_ctx=True):
    if ctx > 8192:
        raise accelsim.AccelsimError(f"{model}: ctx {ctx} exceeds the model's 8192")
    CALLS.append({"model": model, "batch": batch, "ctx": ctx, "phase": phase})
    m = batch if phase == "decode" else batch * prompt
    ops = [accelsim.Gemm("proj", m=m, n=1024, k=1024, dtype=act_dtype)]
    return accelsim.Trace.from_ops(f"{model}-{phase}-b{batch}", ops, repeat=2)


@pytest.fixture
def zoo(monkeypatch):
    fake = types.SimpleNamespace(list_models=lambda: ["llama2-7b", "llama2-13b"],
                                 build_trace=_build_trace)
    monkeypatch.setattr(wl_mod, "zoo_module", lambda: fake)
    CALLS.clear()
    return fake


HEAD = f"name: zoo\narchs: {{sa: {ARCH}}}\n"


def test_workload_axes_sweep_zoo_parameters(tmp_path, zoo):
    exp = write_exp(tmp_path, """\
workloads:
  dec: {model: llama2-7b, phase: decode, ctx: 1024}
  pre: {model: llama2-7b, phase: prefill, prompt: 8}
axes:
  workload.batch: [1, 4]
  units.sa.rows: [64, 128]
""", head=HEAD)
    rep = run_sweep(exp, tmp_path / "s", workers=1)
    errs = load_results(tmp_path / "s", status=None)["error"].dropna().tolist()
    assert rep.evaluated == 8 and rep.failed == 0, errs[:1]
    df = load_results(tmp_path / "s")
    assert df["workload.batch"].tolist() == [1, 1, 4, 4] * 2
    dec = df[df["workload"] == "dec"]
    assert (dec["tokens"] == dec["workload.batch"]).all()
    pre = df[df["workload"] == "pre"]
    assert (pre["tokens"] == pre["workload.batch"] * 8).all()
    assert set(df["trace_name"]) == {"llama2-7b-decode-b1", "llama2-7b-decode-b4",
                                     "llama2-7b-prefill-b1", "llama2-7b-prefill-b4"}
    # traces are cached per worker: one build per distinct workload parameter set (plus checks)
    assert len({(c["batch"], c["phase"]) for c in CALLS}) == 4


def test_zoo_errors_are_located(tmp_path, zoo):
    path = write_exp(tmp_path, "workloads:\n  w: {model: llama2-7bb}\n", head=HEAD)
    with pytest.raises(ConfigError, match=rf"{path}:4 workloads.w.model: unknown model "
                                          r"'llama2-7bb'; did you mean 'llama2-7b'\?"):
        load_experiment(path)
    path = write_exp(tmp_path, "workloads:\n  w: {model: llama2-7b}\naxes:\n"
                     "  workload.ctx: [2048, 16384]\n", head=HEAD, name="e2.yaml")
    with pytest.raises(ConfigError) as info:
        load_experiment(path)
    assert f"{path}:{line_of(path, 'workload.ctx')} axes.workload.ctx: value 16384: " \
           f"llama2-7b: ctx 16384 exceeds" in str(info.value)
    path = write_exp(tmp_path, "workloads:\n  w: {model: llama2-7b}\naxes:\n"
                     "  workload.batch: [1, 0]\n", head=HEAD, name="e3.yaml")
    with pytest.raises(ConfigError, match=r"axes.workload.batch: value 0 is rejected: Input "
                                          r"should be greater than 0"):
        load_experiment(path)


def test_zoo_missing_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(wl_mod, "zoo_module", lambda: None)
    path = write_exp(tmp_path, "workloads:\n  w: {model: llama2-7b, batch: 16}\n", head=HEAD)
    with pytest.raises(ConfigError, match=r"workloads.w.model: model-zoo workloads need "
                                          r"accelsim.workload.zoo"):
        load_experiment(path)


def test_real_zoo_llama_decode_matches_the_hand_written_trace(tmp_path):
    pytest.importorskip("accelsim.workload.zoo")
    exp = write_exp(tmp_path, f"""\
workloads:
  zoo: {{model: llama2-7b, phase: decode, batch: 16, ctx: 2048}}
  hand: {{trace: {LLAMA}}}
""", head=HEAD)
    run_sweep(exp, tmp_path / "s", workers=1)
    df = load_results(tmp_path / "s").set_index("workload")
    assert df.loc["zoo", "tokens"] == df.loc["hand", "tokens"] == 16
    # same model, same shapes: the latencies agree to well within 1 %
    assert df.loc["zoo", "latency_s"] == pytest.approx(df.loc["hand", "latency_s"], rel=0.01)


def test_real_zoo_workload_axes(tmp_path):
    pytest.importorskip("accelsim.workload.zoo")
    exp = write_exp(tmp_path, """\
workloads:
  w: {model: llama2-7b, phase: decode, ctx: 1024}
axes:
  workload.batch: [1, 8]
  workload.weight_bits: [16, 4]
""", head=HEAD)
    run_sweep(exp, tmp_path / "s", workers=2)
    df = load_results(tmp_path / "s")
    assert len(df) == 4 and (df["tokens"] == df["workload.batch"]).all()
    w4 = df[df["workload.weight_bits"] == 4]
    w16 = df[df["workload.weight_bits"] == 16]
    assert (w4["bytes.dram_read"].to_numpy() < w16["bytes.dram_read"].to_numpy()).all()


def test_a_config_json_model_is_keyed_by_its_content(tmp_path):
    pytest.importorskip("accelsim.workload.zoo")
    from accelsim.dse.evaluate import resolve
    from accelsim.dse.strategies import planned_points
    text = (ROOT / "workloads" / "models" / "llama2-7b.json").read_text()
    (tmp_path / "m").mkdir()
    exp = write_exp(tmp_path, "workloads:\n  w: {model: m/config.json}\n", head=HEAD)

    def first_key(config: str) -> str:
        (tmp_path / "m" / "config.json").write_text(config)
        loaded = load_experiment(exp)
        return resolve(loaded, planned_points(loaded)[0]).key

    edited = json.loads(text)
    edited["num_hidden_layers"] = edited["num_hidden_layers"] // 2
    # the same path, other content: a resumed sweep must not reuse the old results
    assert first_key(text) == first_key(text) != first_key(json.dumps(edited))
