"""Numbers out of range and silent corruption (issue 17): every size in a config or a workload
has a documented bound (``accelsim.config.bounds``) checked at load time with the file, line
and key; every reported quantity is finite and non-negative or the run fails with one error
naming it (``accelsim.engine.result.check_result``); a sweep records such points as failed."""
from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

import accelsim
from accelsim.cli import main
from accelsim.config import bounds
from accelsim.engine.result import check_result
from accelsim.errors import AccelsimError, ConfigError
from accelsim.workload import Attention, Gemm, Segment, Trace, Vector

from conftest import ROOT, gemm_trace, sa_arch
from dse_util import line_of, write_exp

HBM = ROOT / "configs" / "sa128_bf16_hbm.yaml"
H200 = ROOT / "configs" / "gpu" / "h200.yaml"


def fails(capsys, argv, *needles):
    """In-process CLI: exit 2 with one clean ``error:`` block naming every needle, quickly."""
    t0 = time.perf_counter()
    assert main([str(a) for a in argv]) == 2
    assert time.perf_counter() - t0 < 10
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("error: ") == 1, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert "MemoryError" not in err and "OverflowError" not in err, err
    for n in needles:
        assert str(n) in err, (n, err)
    return err


def arch_with(tmp_path, old: str, new: str):
    """``sa128_bf16_hbm.yaml`` with one line edited; (path, 1-based line of the edit)."""
    text = HBM.read_text()
    assert old in text, old
    p = tmp_path / "arch.yaml"
    p.write_text(text.replace(old, new, 1))
    return p, line_of(p, new.splitlines()[0].strip())


# --------------------------------------------------------------------------- 1. config bounds

@pytest.mark.parametrize("old, new, key, needle", [
    ("clock_ghz: 1.0", "clock_ghz: .inf", "clock_ghz", "must be a finite number"),
    ("clock_ghz: 1.0", "clock_ghz: .nan", "clock_ghz", "must be a finite number"),
    ("clock_ghz: 1.0", "clock_ghz: 1.0e30", "clock_ghz", "less than or equal to 100"),
    ("clock_ghz: 1.0", "clock_ghz: 1.0e-300", "clock_ghz", "greater than or equal to 0.000001"),
    ("clock_ghz: 1.0", "clock_ghz: true", "clock_ghz", "must be a number, not true/false"),
    ("tech_node_nm: 7", "tech_node_nm: .inf", "tech_node_nm", "must be a finite number"),
    ("rows: 128", "rows: true", "units.sa.rows", "must be a number, not true/false"),
    ("rows: 128", "rows: 100000000000000000000000", "units.sa.rows",
     "less than or equal to 2147483648"),
    ("rows: 128", "rows: 1.0e+23", "units.sa.rows", "as an integer"),
    ("fold_overlap: true", "fold_overlap: 1", "units.sa.fold_overlap", "must be true or false"),
    ("ifmap_kb: 4096", "ifmap_kb: .inf", "units.sa.sram.ifmap_kb", "must be a finite number"),
    ("ifmap_kb: 4096", "ifmap_kb: .nan", "units.sa.sram.ifmap_kb", "must be a finite number"),
    ("ifmap_kb: 4096", "ifmap_kb: 1.0e300", "units.sa.sram.ifmap_kb",
     "less than or equal to 1073741824"),
    ("lanes: 256", "lanes: 100000000000000000000000", "units.vec.lanes",
     "less than or equal to 2147483648"),
    ("buffer_kb: 256", "buffer_kb: .inf", "units.vec.buffer_kb", "must be a finite number"),
    ("buffer_kb: 256", "buffer_kb: 256\n    pipeline_depth: 100000000000", "units.vec."
     "pipeline_depth", "less than or equal to 1000000"),
    ("bandwidth_gb_s: 512", "bandwidth_gb_s: .inf", "memory.dram.bandwidth_gb_s",
     "must be a finite number ('unlimited' where a bandwidth may be infinite)"),
    ("bandwidth_gb_s: 512", "bandwidth_gb_s: 1.0e308", "memory.dram.bandwidth_gb_s",
     "less than or equal to 10000000"),
    ("bandwidth_gb_s: 512", "bandwidth_bytes_per_cycle: .inf", "memory.dram."
     "bandwidth_bytes_per_cycle", "'unlimited'"),
    ("bandwidth_gb_s: 512", "bandwidth_bytes_per_cycle: 1.0e+15", "memory.dram."
     "bandwidth_bytes_per_cycle", "must be a finite number > 0 and <= 1073741824"),
    ("bandwidth_gb_s: 512", "bandwidth_gb_s: 512\n    capacity_gb: .inf",
     "memory.dram.capacity_gb", "must be a finite number"),
])
def test_config_sizes_are_bounded_at_load_with_file_line_and_key(tmp_path, capsys, old, new,
                                                                 key, needle):
    p, line = arch_with(tmp_path, old, new)
    if "pipeline_depth" in new or "capacity_gb" in new:
        line += 1
    fails(capsys, ["validate", p], f"error: {p}:{line} {key}: ", needle)
    with pytest.raises(ConfigError, match="finite|less than|greater than|true|bandwidth|integer"):
        accelsim.load_arch(p)


def test_pe_count_products_are_bounded(tmp_path, capsys):
    p, _ = arch_with(tmp_path, "rows: 128\n    cols: 128", "rows: 65536\n    cols: 65536")
    fails(capsys, ["validate", p], f"{p}:{line_of(p, '  sa:')} units.sa: ",
          "rows x cols is 4,294,967,296, more than the 2,147,483,648")
    for unit in ({"type": "vector", "lanes": 2 ** 20, "flops_per_lane": 2 ** 20},
                 {"type": "lut_tensor_core", "tiles": 1_000_000, "cores": 1_000_000},
                 {"type": "mixpe", "rows": 65536, "cols": 65536},
                 {"type": "bitfusion", "rows": 65536, "cols": 65536}):
        with pytest.raises(ConfigError, match=r"units\.u: .* more than the 2,147,483,648"):
            accelsim.arch_from_dict({"clock_ghz": 1, "tech_node_nm": 28, "units": {"u": unit},
                                     "memory": {"dram": {"bandwidth_gb_s": 100}}})


def test_overrides_and_api_refuse_the_same_values(capsys):
    fails(capsys, ["run", HBM, "llama2-7b", "-o", "clock_ghz=inf"], "clock_ghz",
          "finite number")
    fails(capsys, ["run", HBM, "llama2-7b", "-o", "clock_ghz=1e30", "-o",
                   "memory.dram.bandwidth_gb_s=null", "-o",
                   "memory.dram.bandwidth_bytes_per_cycle=unlimited"], "clock_ghz",
          "less than or equal to 100")
    fails(capsys, ["validate", HBM, "-o", "memory.dram.bandwidth_gb_s=nan"],
          "memory.dram.bandwidth_gb_s")
    with pytest.raises(ConfigError, match="units.sa.rows: .*less than or equal"):
        accelsim.load_arch(HBM, overrides=["units.sa.rows=100000000000000000000000"])
    with pytest.raises(ConfigError, match="units.sa.rows: must be a number, not true/false"):
        sa_arch(rows=True)
    with pytest.raises(ConfigError, match="memory.dram.bandwidth_bytes_per_cycle: must be a "
                                          "finite number"):
        sa_arch(bw=math.inf)
    assert sa_arch(bw="unlimited").dram_bytes_per_cycle == math.inf  # the explicit form works


def test_gpu_and_system_configs_are_bounded(tmp_path, capsys):
    fails(capsys, ["validate", H200, "-o", "units.gpu.mma_macs_per_sm_cycle.bf16=inf"],
          "units.gpu.mma_macs_per_sm_cycle")
    fails(capsys, ["validate", H200, "-o", "units.gpu.clock_ghz=1000"], "units.gpu.clock_ghz",
          "less than or equal to 100")
    from accelsim.system.topology import Dimension
    with pytest.raises(Exception, match="finite"):
        Dimension.model_validate({"type": "ring", "npus": 4, "bandwidth_gb_s": math.nan})


def test_scale_cfg_sizes_are_bounded(tmp_path, capsys):
    text = (ROOT / "configs" / "scalesim" / "examples" / "scale.cfg").read_text()
    p = tmp_path / "scale.cfg"
    p.write_text(text.replace("ArrayHeight:    32", "ArrayHeight:    100000000000000000000"))
    fails(capsys, ["validate", p], f"{p}:{line_of(p, 'ArrayHeight')} ", "ArrayHeight",
          "must be at most")
    p.write_text(text.replace("ArrayHeight:    32", "ArrayHeight:    1000000")
                 .replace("ArrayWidth:     32", "ArrayWidth:     1000000"))
    fails(capsys, ["validate", p], f"{p}:{line_of(p, 'ArrayHeight')} units.sa: rows x cols")


def test_gpu_calibration_overrides_are_bounded(capsys):
    err = fails(capsys, ["validate", H200, "-o", "units.gpu.efficiency.w4a16_overhead_us=inf"],
                "GPU calibration 'h200': efficiency.w4a16_overhead_us: ")
    assert "pydantic" not in err and err.count("\n") == 1


def test_measured_cases_are_bounded(tmp_path):
    from accelsim.measured.cases import read_cases
    p = tmp_path / "m.csv"
    for row, needle in (("gemm,inf,8,8,1", "m.csv:2 m: not a number: 'inf'"),
                        ("gemm,1e400,8,8,1", "m.csv:2 m: not a number"),
                        ("gemm,1e19,8,8,1", "m.csv:2 m: op 'gemm': m must be at most"),
                        ("gemm,8,8,8,inf", "m.csv:2 measured_us: must be a positive time")):
        p.write_text("kind,m,n,k,measured_us\n" + row + "\n")
        with pytest.raises(ConfigError, match=needle):
            read_cases(p)


# --------------------------------------------------------------------------- 1. workload bounds

def trace_file(tmp_path, op: str, repeat: int = 1):
    p = tmp_path / "t.yaml"
    p.write_text(f"name: t\nsegments:\n  - name: s\n    repeat: {repeat}\n    ops:\n"
                 f"      - {{name: a, kind: vector, op: add, rows: 4, cols: 8}}\n"
                 f"      - {op}\n")
    return p


@pytest.mark.parametrize("op, key, needle", [
    ("{name: g, kind: gemm, m: 10000000000000000000, n: 8, k: 8}", "segments.0.ops.1.m",
     "m must be at most 1,099,511,627,776 (2^40), got 10,000,000,000,000,000,000"),
    ("{name: g, kind: gemm, m: 80000000000000000, n: 8, k: 8}", "segments.0.ops.1.m",
     "m must be at most"),
    ("{name: g, kind: gemm, m: 8, n: 8, k: 8, batch: 10000000000000}", "segments.0.ops.1.batch",
     "batch must be at most"),
    ("{name: g, kind: gemm, m: 1073741824, n: 1073741824, k: 8}", "segments.0.ops.1",
     "elements of C, more than the 281,474,976,710,656 (2^48)"),
    ("{name: g, kind: gemm, m: 16777216, n: 16777216, k: 16777216}", "segments.0.ops.1",
     "more than the"),
    ("{name: g, kind: gemm, m: true, n: 8, k: 8}", "segments.0.ops.1.m", "must be an integer"),
    ("{name: g, kind: gemm, m: 8, n: 8, k: 8, group_size: 10000000000000000}",
     "segments.0.ops.1.group_size", "group_size must be at most"),
    ("{name: x, kind: attention, batch: 1, heads: 8, q_len: 1, kv_len: 64, head_dim: 10000000}",
     "segments.0.ops.1.head_dim", "head_dim must be at most 65,536"),
    ("{name: x, kind: attention, batch: 1024, heads: 1024, q_len: 65536, kv_len: 65536}",
     "segments.0.ops.1", "elements of scores"),
    ("{name: v, kind: vector, op: add, rows: 16777216, cols: 16777217}", "segments.0.ops.1",
     "elements of out"),
    ("{name: c, kind: collective, collective: all_reduce, bytes: .inf}",
     "segments.0.ops.1.bytes", "bytes must be a number from 0 to"),
])
def test_op_sizes_are_bounded_with_file_line_and_key(tmp_path, capsys, op, key, needle):
    p = trace_file(tmp_path, op)
    fails(capsys, ["run", HBM, p, "--quiet"], f"error: {p}:7 {key}: ", needle)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        accelsim.load_workload(p)


def test_repeats_and_op_runs_are_bounded(tmp_path, capsys):
    p = trace_file(tmp_path, "{name: g, kind: gemm, m: 8, n: 8, k: 8}", repeat=10 ** 12)
    fails(capsys, ["run", HBM, p], f"{p}:3 segments.0", "repeat must be at most 4,194,304")
    p = trace_file(tmp_path, "{name: g, kind: gemm, m: 8, n: 8, k: 8}",
                   repeat=bounds.MAX_REPEAT)
    fails(capsys, ["run", HBM, p], f"{p}:", "runs 8,388,608 ops", "MAX_OP_RUNS")
    # an attention op lowers to three: the engine counts what it would lay out
    tr = Trace("t", (Segment("s", (Attention(
        "x", heads=4, q_len=1, kv_len=8, head_dim=8),), repeat=bounds.MAX_OP_RUNS // 2),))
    with pytest.raises(AccelsimError, match="runs 6,291,456 ops .* lowered ops"):
        accelsim.simulate(HBM, tr, fidelity="analytical")
    with pytest.raises(AccelsimError, match="repeat must be a positive integer"):
        Segment("s", tr.segments[0].ops, repeat=True)


def test_gemm_command_dimensions(capsys):
    fails(capsys, ["gemm", HBM, "--m", 10 ** 19, "--n", 8, "--k", 8], "m must be at most")
    fails(capsys, ["gemm", HBM, "--m", 8 * 10 ** 16, "--n", 8, "--k", 8], "m must be at most")
    with pytest.raises(AccelsimError, match="k must be at most"):
        Gemm("g", m=1, n=1, k=2 ** 41)


def test_tile_counts_are_bounded_before_allocating(capsys):
    # 2^36 folds on a 1x1 array: refused in milliseconds instead of allocating terabytes
    fails(capsys, ["gemm", HBM, "--m", 2 ** 18, "--n", 2 ** 18, "--k", 1, "-o",
                   "units.sa.rows=1", "-o", "units.sa.cols=1", "-o", "units.sa.dataflow=os"],
          "needs 68,719,476,736 tiles (folds) on unit 'sa'", "MAX_TILES")
    # weight-stationary: chunks of the streamed M are only tried within the tile budget
    arch = sa_arch(8, 8, "ws", overlap=True)
    res = accelsim.simulate(arch, gemm_trace(2 ** 30, 8, 8), fidelity="analytical")
    assert res.cycles > 0 and res.stall_cycles >= 0
    assert arch.units["sa"].cost(Gemm("g", m=2 ** 30, n=8, k=8, dtype="int8")).tiles.n \
        <= bounds.MAX_TILES
    vec = accelsim.load_arch(HBM, overrides=["units.vec.buffer_kb=1e-9"])
    with pytest.raises(AccelsimError, match="tiles .* on unit 'vec'"):
        accelsim.simulate(vec, Trace.from_ops("v", [Vector(
            "v", op="add", rows=2 ** 14, cols=2 ** 14)]), fidelity="analytical")


def test_hf_config_sizes_are_bounded(tmp_path, capsys):
    from test_user_inputs import TINY_LLAMA
    for key, value, needle in (("head_dim", 10 ** 7, "must be at most 65,536"),
                               ("hidden_size", 10 ** 12, "must be at most 16,777,216"),
                               ("num_hidden_layers", 10 ** 12, "must be at most 4,194,304"),
                               ("max_position_embeddings", 10 ** 9, "must be at most"),
                               ("vocab_size", True, "must be a positive integer")):
        p = tmp_path / f"{key}.json"
        p.write_text(json.dumps(dict(TINY_LLAMA, **{key: value}), indent=1))
        fails(capsys, ["run", HBM, p], f"{p}:{line_of(p, key)} {key}: ", needle)


@pytest.mark.parametrize("argv, needle", [
    (["--batch", 10 ** 12], "batch must be at most 16,777,216"),
    (["--ctx", 10 ** 12, "--no-ctx-check"], "ctx must be at most 16,777,216"),
    (["--phase", "prefill", "--prompt", 10 ** 12], "prompt must be at most"),
])
def test_model_options_are_bounded(capsys, argv, needle):
    fails(capsys, ["run", HBM, "llama2-7b", *argv], needle)


def test_model_options_in_python():
    with pytest.raises(AccelsimError, match="batch must be at most"):
        accelsim.load_workload("llama2-7b", batch=10 ** 12)
    with pytest.raises(AccelsimError, match="ctx must be at most"):
        accelsim.load_workload("llama2-7b", ctx=10 ** 12, check_ctx=False)


def test_request_traces_are_bounded(tmp_path, capsys):
    p = tmp_path / "req.csv"
    p.write_text("arrival_s,prompt_tokens,output_tokens\n0,16,4\n0,16,100000000\n")
    fails(capsys, ["run", HBM, "llama2-7b", "--requests", p, "--no-ctx-check"],
          f"{p}:3 output_tokens: must be at most 16,777,216")
    p.write_text("arrival_s,prompt_tokens,output_tokens\nnan,16,4\n")
    fails(capsys, ["run", HBM, "llama2-7b", "--requests", p], f"{p}:2 arrival_s")
    from accelsim.workload.requests import Request, synth_requests
    from accelsim.workload.serving import simulate_serving
    with pytest.raises(AccelsimError, match="output_tokens must be an integer from 1 to"):
        simulate_serving(accelsim.load_arch(HBM), "llama2-7b",
                         [Request(0, 0.0, 16, 10 ** 9)], check_ctx=False)
    with pytest.raises(AccelsimError, match="number of requests must be at most"):
        synth_requests(10 ** 12)
    with pytest.raises(AccelsimError, match="rate must be a finite number"):
        synth_requests(4, rate=math.inf)


# --------------------------------------------------------------------------- 1. sweep bounds

@pytest.mark.parametrize("body, key, needle", [
    ("axes:\n  memory.dram.bandwidth_gb_s: [512, .inf]\n", "axes.memory.dram.bandwidth_gb_s",
     "axis values must be finite"),
    ("axes:\n  clock_ghz: [1.0, .nan]\n", "axes.clock_ghz", "axis values must be finite"),
    ("axes:\n  units.sa.rows: {range: [1, .nan, 1]}\n", "axes.units.sa.rows", "finite"),
    ("axes:\n  units.sa.rows: [64]\nstrategy: {kind: random, samples: 1000000000000}\n",
     "strategy.samples", "less than or equal to 10000000"),
])
def test_experiment_numbers_are_bounded(tmp_path, capsys, body, key, needle):
    exp = write_exp(tmp_path, body)
    fails(capsys, ["sweep", exp, "--dry-run"], f"{exp}:", key, needle)


def test_experiment_zoo_options_are_bounded(tmp_path, capsys):
    head = ("name: t\narchs:\n  sa: {path: " + str(HBM) + "}\nworkloads:\n"
            "  w: {model: llama2-7b, batch: 1000000000000}\n")
    exp = write_exp(tmp_path, "axes:\n  units.sa.rows: [64]\n", head=head)
    fails(capsys, ["sweep", exp, "--dry-run"], f"{exp}:5 workloads.w.batch",
          "less than or equal to 16777216")


def test_out_of_range_axis_values_are_refused_up_front(tmp_path, capsys):
    exp = write_exp(tmp_path, "axes:\n  clock_ghz: [1.0, 1000.0]\nobjectives: {latency_s: min}\n")
    fails(capsys, ["sweep", exp, "--store", tmp_path / "s", "--workers", 1, "--no-progress"],
          f"{exp}:{line_of(exp, 'clock_ghz')} axes.clock_ghz: value 1000.0",
          "less than or equal to 100")


# --------------------------------------------------------------------------- 2. derived quantities

def _result():
    return accelsim.simulate(HBM, ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml",
                             fidelity="analytical")


@pytest.mark.parametrize("column, value, needle", [
    ("stall_cycles", -5.0e18, "stall_cycles of op 'attn_norm' = -5e+18"),
    ("dram_read_bytes", -1.0, "dram_read_bytes of op"),
    ("cycles", math.nan, "cycles of op 'attn_norm' = nan"),
    ("energy_j", -3.0, "energy_j of op"),
    ("energy_j", math.nan, "energy_j of op"),
    ("macs", math.inf, "macs of op"),
])
def test_a_corrupt_result_is_never_returned(column, value, needle):
    res = _result()
    res.columns[column] = np.array(res.columns[column], dtype=float)
    res.columns[column][0] = value
    with pytest.raises(AccelsimError, match="likely cause") as exc:
        check_result(res)
    assert needle in str(exc.value)
    assert ("overflow" in str(exc.value)) == (value < 0)


def test_result_totals_and_clock():
    res = _result()
    assert check_result(res) is res
    res.clock_hz = math.inf  # latency 0 with cycles > 0
    with pytest.raises(AccelsimError, match="clock_hz = inf"):
        check_result(res)
    res = _result()
    res.clock_hz = 1e300
    res.cycles = 1e-30
    with pytest.raises(AccelsimError, match="latency_s = 0.0.*clock so fast"):
        check_result(res)
    res = _result()
    res.cycles = 0.0
    with pytest.raises(AccelsimError, match="taking no time"):
        check_result(res)
    res = _result()
    res.cost.leakage_j = -1.0
    with pytest.raises(AccelsimError, match="energy_leakage_j = -1.0"):
        check_result(res)


def test_unknown_energy_stays_nan():
    res = accelsim.simulate(H200, "llama2-7b", fidelity="analytical")
    assert not res.cost.energy_known and math.isnan(res.cost.energy_j)
    assert check_result(res) is res and res.cycles > 0


def test_corrupt_points_in_a_sweep_are_failed_rows_with_the_message(tmp_path, capsys,
                                                                    monkeypatch):
    import accelsim.pipeline as pipeline
    real = pipeline.asm.columns

    def corrupt(runs, arch, energies, *rest):  # what an int64 overflow did before the bounds
        cols, span = real(runs, arch, energies, *rest)
        if arch.units["sa"].config.rows == 64:
            cols["stall_cycles"] = cols["stall_cycles"] - 2.0 ** 63
        return cols, span

    monkeypatch.setattr(pipeline.asm, "columns", corrupt)
    exp = write_exp(tmp_path, "axes:\n  units.sa.rows: [64, 128]\n"
                              "objectives: {latency_s: min}\n")
    store = tmp_path / "s"
    assert main(["sweep", str(exp), "--store", str(store), "--workers", "1",
                 "--no-progress"]) == 0
    capsys.readouterr()
    from accelsim.dse.store import ResultStore
    df = ResultStore(store).load(status=None)
    bad = df[df["status"] != "ok"]
    assert len(bad) == 1 and "stall_cycles of op" in bad["error"].iloc[0]
    assert "overflow" in bad["error"].iloc[0]
    fails(capsys, ["run", HBM, ROOT / "workloads" / "examples" / "llama2_7b_decode_b16.yaml",
                   "-o", "units.sa.rows=64"], "stall_cycles of op", "nothing is reported")


# --------------------------------------------------------------------------- documentation

def test_bounds_are_documented():
    doc = (ROOT / "docs" / "engine.md").read_text()
    names = [n for n in dir(bounds) if n.startswith(("MAX_", "MIN_"))]
    assert len(names) >= 15
    for n in names:
        assert n in doc, n
