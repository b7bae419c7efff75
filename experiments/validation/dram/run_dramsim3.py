#!/usr/bin/env python3
"""Reference numbers from DRAMsim3 for validating accelsim's bank-level DRAM model.

What this does
--------------
For three DRAMsim3 stock configs (HBM2_8Gb_x128, DDR4_8Gb_x8_2400,
LPDDR4_8Gb_x16_2400), each forced to ONE channel, it generates trace files,
runs DRAMsim3's trace-driven front end (``dramsim3main -t``) and writes

* dramsim3_results.csv      sustained bandwidth per (standard, pattern, refresh)
* dramsim3_latency.csv      idle read latency: row_hit / closed_row / conflict
* dramsim3_timings.csv      every organisation/timing parameter DRAMsim3 *uses*
                            (ini value, DRAMsim3 default, or derived)
* dramsim3_convergence.csv  bandwidth at two simulation lengths (must agree <1%)
* dramsim3_raw_stats.csv    the raw DRAMsim3 counters behind every bandwidth run

How DRAMsim3 was built (the numbers checked in next to this script)
---------------------------------------------------------------------
Source : https://github.com/umd-memsys/DRAMsim3, branch master,
         commit 29817593b3389f1337235d63cac515024ab8fd6e
         (2021-04-05, "fix DTHERMAL compile error"; the repository's HEAD).
Tools  : cmake 3.25.1, g++ 12.2.0 (Debian 12), GNU make; no THERMAL, no CMD_TRACE.
Commands (from a scratch directory, never inside accelsim):

    git clone https://github.com/umd-memsys/DRAMsim3 /tmp/dramsim3
    git -C /tmp/dramsim3 checkout 29817593b3389f1337235d63cac515024ab8fd6e
    mkdir -p /tmp/dramsim3/build && cd /tmp/dramsim3/build
    cmake .. -DCMAKE_BUILD_TYPE=Release
    make -j2 dramsim3main          # -> build/dramsim3main, ../libdramsim3.so

Then:

    python experiments/validation/dram/run_dramsim3.py /tmp/dramsim3/build

(the configs are taken from <build>/../configs unless --configs is given).
The whole run takes ~2 minutes on 2 cores (2M- and 1M-cycle runs, 57 simulations).

Methodology (see README.md for the caveats)
-------------------------------------------
* Trace format (DRAMsim3 ``operator>>(istream, Transaction)``):
  ``<hex addr> <READ|WRITE> <decimal cycle>``.  NB: only the strings WRITE,
  write, P_MEM_WR, BOFF are writes -- a bare "W" would silently be a READ.
* Bandwidth traces stamp every request with cycle 0: TraceBasedCPU then offers
  the next request every DRAM cycle and stalls (in order) until the controller
  accepts it (read queue / write buffer of trans_queue_size=32 entries each),
  i.e. the controller is kept saturated.  Each trace holds more requests than
  the channel can serve in the simulated cycles (checked), so the window is
  saturated from start to end.  A sentinel line with a far-future cycle ends
  every trace (works around TraceBasedCPU's EOF handling, which otherwise
  injects a spurious read of address 0 after the last line).
* Bandwidth = (num_read_cmds + num_write_cmds) * request_size_bytes
              / (num_cycles * tCK[ns])          [GB/s, 1 GB = 1e9 B]
  i.e. bursts actually issued on the DRAM bus.  DRAMsim3's own
  "average_bandwidth" uses (num_reads_done + num_writes_done), where a write is
  "done" when it is *posted* into the write buffer; both are in raw_stats.
* Peak = bus_width/8 * 2 (DDR) / tCK.
* Refresh off: DRAMsim3 has no switch, so tREFI (and tREFIb) are set to
  2,000,000,000 cycles, far beyond the simulated time -> num_ref_cmds == 0.
* Idle latency: DRAMsim3 "read_latency" histogram (cycles from the controller
  accepting the transaction to the read callback, in DRAM tCK), refresh off.
  closed_row: one read at cycle 100 to a bank that is idle (precharged).
  row_hit / conflict: that read, then at cycle 1100 (system idle again) a read
  to the same row / to another row of the same bank; the probe latency is the
  histogram sum minus the closed_row latency.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DRAMSIM3_COMMIT = "29817593b3389f1337235d63cac515024ab8fd6e"

STANDARDS = [
    ("HBM2", "HBM2_8Gb_x128.ini"),
    ("DDR4", "DDR4_8Gb_x8_2400.ini"),
    ("LPDDR4", "LPDDR4_8Gb_x16_2400.ini"),
]
PATTERNS = ["seq", "seq_rw50", "random", "one_bank"]
TRACE_END_CYCLE = 10**15           # sentinel line, never reached
SEED = 12345

from dramsim3_config import Cfg, make_ini, timing_rows  # noqa: E402


def bw_addresses(cfg: Cfg, pattern: str, n: int):
    req = cfg.request_size_bytes
    if pattern == "seq":
        for i in range(n):
            yield i * req, False
    elif pattern == "seq_rw50":
        for i in range(n):
            yield i * req, (i % 2 == 1)
    elif pattern == "random":
        rng = random.Random(SEED)
        nblk = (cfg.channel_size * 2**20) // req
        for _ in range(n):
            yield rng.randrange(nblk) * req, False
    elif pattern == "one_bank":
        for i in range(n):
            yield cfg.compose(ro=i % cfg.rows, co=0), False
    else:
        raise ValueError(pattern)


def write_trace(path: Path, items):
    """items: iterable of (addr, is_write, cycle)."""
    with open(path, "w") as f:
        for addr, w, cyc in items:
            f.write(f"0x{addr:x} {'WRITE' if w else 'READ'} {cyc}\n")
        f.write(f"0x0 READ {TRACE_END_CYCLE}\n")  # sentinel, never issued


# --------------------------------------------------------------------------
# Running DRAMsim3
# --------------------------------------------------------------------------
def run_sim(binary: Path, ini: Path, trace: Path, cycles: int, outdir: Path) -> dict:
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [str(binary), str(ini), "-t", str(trace), "-c", str(cycles), "-o", str(outdir)]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    if "WARNING" in p.stdout:
        print(p.stdout.strip(), file=sys.stderr)
    with open(outdir / "dramsim3.json") as f:
        stats = json.load(f)
    assert list(stats) == ["0"], "expected exactly one channel"
    return stats["0"]


def bandwidth_job(binary, cfg: Cfg, std, ini_name, ini, trace, n_trace, pattern,
                  refresh, cycles, outdir):
    st = run_sim(binary, ini, trace, cycles, outdir)
    reqs = st["num_read_cmds"] + st["num_write_cmds"]
    # the window must stay saturated: the CPU may never run out of trace
    consumed = st["num_reads_done"] + st["num_writes_done"]
    assert consumed + 4 * cfg.trans_queue_size < n_trace, \
        f"trace exhausted for {std}/{pattern}"
    assert st["num_cycles"] == cycles
    if not refresh:
        assert st["num_ref_cmds"] == 0 and st["num_refb_cmds"] == 0
    nbytes = reqs * cfg.request_size_bytes
    t_ns = st["num_cycles"] * cfg.tCK
    bw = nbytes / t_ns
    row = dict(standard=std, config=ini_name, pattern=pattern,
               refresh="on" if refresh else "off", channels=cfg.channels,
               requests=reqs, cycles=st["num_cycles"], tck_ns=cfg.tCK,
               bytes=nbytes, bandwidth_gb_s=round(bw, 4),
               peak_gb_s=round(cfg.peak_gb_s, 4),
               efficiency=round(bw / cfg.peak_gb_s, 4))
    raw = dict(standard=std, pattern=pattern, refresh=row["refresh"], cycles=cycles)
    for k in ["num_cycles", "num_read_cmds", "num_write_cmds", "num_reads_done",
              "num_writes_done", "num_act_cmds", "num_pre_cmds", "num_ondemand_pres",
              "num_ref_cmds", "num_refb_cmds", "num_read_row_hits",
              "num_write_row_hits", "hbm_dual_cmds", "average_bandwidth",
              "average_read_latency"]:
        raw[k] = st[k]
    raw["bandwidth_from_cmds_gb_s"] = round(bw, 4)
    return row, raw


def hist_sum_count(st: dict):
    h = st["read_latency"]  # {latency_cycles: count}
    return sum(int(k) * v for k, v in h.items()), sum(h.values()), h


def latency_runs(binary, cfg: Cfg, std, ini_name, ini_off, work: Path):
    A = cfg.compose(ro=0, co=0)
    hit = cfg.compose(ro=0, co=1)
    conf = cfg.compose(ro=1, co=0)
    # sanity: same bank, expected row/col
    da, dh, dc = cfg.decompose(A), cfg.decompose(hit), cfg.decompose(conf)
    assert (dh["ro"], dh["ba"], dh["bg"], dh["ra"]) == (da["ro"], da["ba"], da["bg"], da["ra"])
    assert dc["ro"] != da["ro"] and (dc["ba"], dc["bg"], dc["ra"]) == (da["ba"], da["bg"], da["ra"])
    t0, t1, cycles = 100, 1100, 3000
    cases = {
        "closed_row": [(A, False, t0)],
        "row_hit": [(A, False, t0), (hit, False, t1)],
        "conflict": [(A, False, t0), (conf, False, t1)],
    }
    res = {}
    for case, items in cases.items():
        tr = work / f"{std}_lat_{case}.trace"
        write_trace(tr, items)
        st = run_sim(binary, ini_off, tr, cycles, work / f"{std}_lat_{case}")
        s, c, h = hist_sum_count(st)
        assert c == len(items), (std, case, h)
        if case == "closed_row":
            res[case] = s
        else:
            assert str(res["closed_row"]) in h, (std, case, h)
            res[case] = s - res["closed_row"]
        if case == "conflict":
            assert st["num_act_cmds"] == 2 and st["num_pre_cmds"] == 1, st
        if case == "row_hit":
            assert st["num_act_cmds"] == 1 and st["num_read_row_hits"] == 1, st
    return [dict(standard=std, config=ini_name, case=k, latency_cycles=res[k],
                 tck_ns=cfg.tCK, page_policy=cfg.row_buf_policy)
            for k in ("row_hit", "closed_row", "conflict")]


# --------------------------------------------------------------------------
# Timing / organisation table
# --------------------------------------------------------------------------
def write_csv(path: Path, rows, fields):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in fields})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("build_dir", type=Path, help="DRAMsim3 build dir (contains dramsim3main)")
    ap.add_argument("--configs", type=Path, default=None,
                    help="DRAMsim3 configs dir (default: <build_dir>/../configs)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    ap.add_argument("--work", type=Path, default=None, help="scratch dir (default: mkdtemp in /tmp)")
    ap.add_argument("--cycles", type=int, default=2_000_000, help="main run length (DRAM cycles)")
    ap.add_argument("--check-cycles", type=int, default=1_000_000,
                    help="shorter run used for the convergence check")
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()

    bd = args.build_dir.resolve()
    binary = bd / "dramsim3main"
    if not binary.exists():
        binary = bd / "build" / "dramsim3main"
    if not binary.exists():
        sys.exit(f"dramsim3main not found under {bd}")
    cfg_dir = args.configs or (binary.parent.parent / "configs")
    work = args.work or Path(tempfile.mkdtemp(prefix="dramsim3_val_", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"binary={binary}\nconfigs={cfg_dir}\nwork={work}\nout={args.out}")
    t_start = time.time()

    lengths = sorted({args.check_cycles, args.cycles})
    jobs, lat_rows, tim_rows = [], [], []
    cfgs = {}
    for std, ini_name in STANDARDS:
        src = cfg_dir / ini_name
        ini_on = make_ini(src, work / f"{std}_refon.ini", True)
        ini_off = make_ini(src, work / f"{std}_refoff.ini", False)
        cfg = Cfg(ini_on)
        cfg_off = Cfg(ini_off)
        assert cfg_off.refresh_interval > max(lengths)
        cfgs[std] = cfg
        tim_rows += timing_rows(std, cfg)
        # bandwidth traces: more requests than the data bus can move in max(lengths)
        n_trace = max(lengths) // cfg.burst_cycle + 4096
        for pat in PATTERNS:
            tr = work / f"{std}_{pat}.trace"
            write_trace(tr, ((a, w, 0) for a, w in bw_addresses(cfg, pat, n_trace)))
            for refresh, ini in ((True, ini_on), (False, ini_off)):
                for L in lengths:
                    od = work / f"{std}_{pat}_ref{'on' if refresh else 'off'}_{L}"
                    jobs.append((binary, cfg, std, ini_name, ini, tr, n_trace, pat,
                                 refresh, L, od))
        lat_rows += latency_runs(binary, cfg_off, std, ini_name, ini_off, work)

    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        outs = list(ex.map(lambda j: bandwidth_job(*j), jobs))

    res_fields = ["standard", "config", "pattern", "refresh", "channels", "requests",
                  "cycles", "tck_ns", "bytes", "bandwidth_gb_s", "peak_gb_s", "efficiency"]
    main_rows = [r for r, _ in outs if r["cycles"] == args.cycles]
    write_csv(args.out / "dramsim3_results.csv", main_rows, res_fields)
    raws = [raw for _, raw in outs]
    write_csv(args.out / "dramsim3_raw_stats.csv", raws, list(raws[0].keys()))

    conv = []
    by_key = {(r["standard"], r["pattern"], r["refresh"], r["cycles"]): r for r, _ in outs}
    for std, _ in STANDARDS:
        for pat in PATTERNS:
            for ref in ("on", "off"):
                a = by_key[(std, pat, ref, args.check_cycles)]["bandwidth_gb_s"]
                b = by_key[(std, pat, ref, args.cycles)]["bandwidth_gb_s"]
                d = abs(a - b) / b
                conv.append(dict(standard=std, pattern=pat, refresh=ref,
                                 cycles_short=args.check_cycles, bw_short_gb_s=a,
                                 cycles_long=args.cycles, bw_long_gb_s=b,
                                 rel_diff=round(d, 5), within_1pct=d < 0.01))
    write_csv(args.out / "dramsim3_convergence.csv", conv, list(conv[0].keys()))
    write_csv(args.out / "dramsim3_latency.csv", lat_rows,
              ["standard", "config", "case", "latency_cycles", "tck_ns", "page_policy"])
    write_csv(args.out / "dramsim3_timings.csv", tim_rows,
              ["standard", "key", "value", "unit", "source"])

    print(f"\n{len(jobs) + 3 * len(STANDARDS)} DRAMsim3 runs in {time.time() - t_start:.1f}s\n")
    print(f"{'std':7s} {'pattern':9s} {'ref':3s} {'GB/s':>8s} {'peak':>7s} {'eff':>6s}")
    for r in main_rows:
        print(f"{r['standard']:7s} {r['pattern']:9s} {r['refresh']:3s} "
              f"{r['bandwidth_gb_s']:8.3f} {r['peak_gb_s']:7.3f} {r['efficiency']:6.3f}")
    print()
    for r in lat_rows:
        print(f"{r['standard']:7s} {r['case']:10s} {r['latency_cycles']:4d} cycles "
              f"({r['latency_cycles'] * r['tck_ns']:.1f} ns)")
    bad = [c for c in conv if not c["within_1pct"]]
    if bad:
        print("\nNOT CONVERGED (>1%):", bad)
    else:
        print("\nall bandwidths agree within 1% between", lengths, "cycles")


if __name__ == "__main__":
    main()
