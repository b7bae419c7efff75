"""DRAMsim3 configurations for the validation run: one ini forced to one channel (``Cfg``),
the ini editing helpers and the table of every parameter DRAMsim3 uses (``timing_rows``).
Split out of run_dramsim3.py, which generates the traces and runs the simulations."""

from __future__ import annotations

import configparser
from pathlib import Path

REFRESH_OFF_TREFI = 2_000_000_000  # fits in C int; >> any simulated length


def log2i(x: int) -> int:
    """DRAMsim3 LogBase2 (floor log2 for ints >= 1)."""
    i = 0
    while x > 1:
        x //= 2
        i += 1
    return i


# --------------------------------------------------------------------------
# Config: replicate what DRAMsim3's Config class derives from the .ini
# --------------------------------------------------------------------------
class Cfg:
    """Mirror of dramsim3::Config (configuration.cc @ DRAMSIM3_COMMIT)."""

    def __init__(self, path: Path):
        cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"),
                                       strict=False)
        cp.read(path)
        self.cp = cp
        self.path = path
        self.src = {}  # key -> "ini" | "default" | "derived"

        # InitSystemParams
        self.channel_size_ini = self._int("system", "channel_size", 1024)
        self.channels = self._int("system", "channels", 1)
        self.bus_width = self._int("system", "bus_width", 64)
        self.address_mapping = self._str("system", "address_mapping", "chrobabgraco")
        self.queue_structure = self._str("system", "queue_structure", "PER_BANK")
        self.row_buf_policy = self._str("system", "row_buf_policy", "OPEN_PAGE")
        self.cmd_queue_size = self._int("system", "cmd_queue_size", 16)
        self.trans_queue_size = self._int("system", "trans_queue_size", 32)
        self.unified_queue = self._bool("system", "unified_queue", False)
        self.refresh_policy = self._str("system", "refresh_policy", "RANK_LEVEL_STAGGERED")
        self.enable_self_refresh = self._bool("system", "enable_self_refresh", False)
        # InitDRAMParams
        self.protocol = self._str("dram_structure", "protocol", "DDR3")
        self.bankgroups = self._int("dram_structure", "bankgroups", 2)
        self.banks_per_group = self._int("dram_structure", "banks_per_group", 2)
        self.bankgroup_enable = self._bool("dram_structure", "bankgroup_enable", True)
        if not self.bankgroup_enable:
            self.banks_per_group *= self.bankgroups
            self.bankgroups = 1
        self.banks = self.bankgroups * self.banks_per_group
        self.rows = self._int("dram_structure", "rows", 1 << 16)
        self.columns_ini = self._int("dram_structure", "columns", 1 << 10)
        self.device_width = self._int("dram_structure", "device_width", 8)
        self.BL = self._int("dram_structure", "BL", 8)
        self.is_hbm = self.protocol in ("HBM", "HBM2")
        self.is_gddr = self.protocol in ("GDDR5", "GDDR5X", "GDDR6")
        self.hbm_dual_cmd = self._bool("dram_structure", "hbm_dual_cmd", True) and self.is_hbm
        if self.protocol == "GDDR5":
            self.burst_cycle = self.BL // 4
        elif self.protocol == "GDDR5X":
            self.burst_cycle = self.BL // 8
        elif self.protocol == "GDDR6":
            self.burst_cycle = self.BL // 16
        else:
            self.burst_cycle = self.BL // 2
        self.columns = self.columns_ini
        if self.is_gddr:
            self.columns *= self.BL
        elif self.is_hbm:
            self.columns *= 2
        # CalculateSize
        self.devices_per_rank = self.bus_width // self.device_width
        self.page_size = self.columns * self.device_width // 8  # per device, bytes
        megs_per_bank = self.page_size * (self.rows // 1024) // 1024
        megs_per_rank = megs_per_bank * self.banks * self.devices_per_rank
        if megs_per_rank > self.channel_size_ini:
            self.ranks = 1
            self.channel_size = megs_per_rank
        else:
            self.ranks = self.channel_size_ini // megs_per_rank
            self.channel_size = self.ranks * megs_per_rank
        # SetAddressMapping
        self.request_size_bytes = self.bus_width // 8 * self.BL
        self.shift_bits = log2i(self.request_size_bytes)
        widths = {
            "ch": log2i(self.channels), "ra": log2i(self.ranks),
            "bg": log2i(self.bankgroups), "ba": log2i(self.banks_per_group),
            "ro": log2i(self.rows), "co": log2i(self.columns) - log2i(self.BL),
        }
        fields = [self.address_mapping[i:i + 2] for i in range(0, 12, 2)]
        pos, self.field_pos = 0, {}
        for f in reversed(fields):
            self.field_pos[f] = pos
            pos += widths[f]
        self.field_width = widths
        self.addr_bits = pos + self.shift_bits
        assert (1 << self.addr_bits) == self.channel_size * self.channels * 2**20, \
            (self.addr_bits, self.channel_size)
        # InitTimingParams
        g = lambda k, d: self._int("timing", k, d)  # noqa: E731
        self.tCK = self._real("timing", "tCK", 1.0)
        self.AL = g("AL", 0)
        self.CL = g("CL", 12)
        self.CWL = g("CWL", 12)
        self.tCCD_L = g("tCCD_L", 6)
        self.tCCD_S = g("tCCD_S", 4)
        self.tRTRS = g("tRTRS", 2)
        self.tRTP = g("tRTP", 5)
        self.tWTR_L = g("tWTR_L", 5)
        self.tWTR_S = g("tWTR_S", 5)
        self.tWR = g("tWR", 10)
        self.tRP = g("tRP", 10)
        self.tRRD_L = g("tRRD_L", 4)
        self.tRRD_S = g("tRRD_S", 4)
        self.tRAS = g("tRAS", 24)
        self.tRCD = g("tRCD", 10)
        self.tRFC = g("tRFC", 74)
        self.tRC = self.tRAS + self.tRP
        self.tCKE = g("tCKE", 6)
        self.tCKESR = g("tCKESR", 12)
        self.tXS = g("tXS", 432)
        self.tXP = g("tXP", 8)
        self.tRFCb = g("tRFCb", 20)
        self.tREFI = g("tREFI", 7800)
        self.tREFIb = g("tREFIb", 1950)
        self.tFAW = g("tFAW", 50)
        self.tRPRE = g("tRPRE", 1)
        self.tWPRE = g("tWPRE", 1)
        self.tPPD = g("tPPD", 0)
        self.tRCDRD = g("tRCDRD", 24)
        self.tRCDWR = g("tRCDWR", 20)
        self.RL = self.AL + self.CL
        self.WL = self.AL + self.CWL
        self.read_delay = self.RL + self.burst_cycle
        self.write_delay = self.WL + self.burst_cycle

    # -- ini helpers (inih lower-cases section and key names) --------------
    def _raw(self, sec, key):
        if self.cp.has_section(sec) and self.cp.has_option(sec, key):
            return self.cp.get(sec, key).strip()
        return None

    def _mark(self, key, raw):
        self.src[key.lower()] = "ini" if raw is not None else "dramsim3_default"

    def _int(self, sec, key, d):
        raw = self._raw(sec, key)
        self._mark(key, raw)
        return int(float(raw)) if raw is not None else d

    def _real(self, sec, key, d):
        raw = self._raw(sec, key)
        self._mark(key, raw)
        return float(raw) if raw is not None else d

    def _str(self, sec, key, d):
        raw = self._raw(sec, key)
        self._mark(key, raw)
        return raw if raw is not None else d

    def _bool(self, sec, key, d):
        raw = self._raw(sec, key)
        self._mark(key, raw)
        if raw is None:
            return d
        return raw.lower() in ("true", "yes", "on", "1")

    # -- derived quantities --------------------------------------------------
    @property
    def peak_gb_s(self) -> float:
        return self.bus_width / 8 * 2 / self.tCK

    @property
    def refresh_interval(self) -> int:
        """Cycles between refresh insertions (refresh.cc)."""
        if self.refresh_policy == "RANK_LEVEL_SIMULTANEOUS":
            return self.tREFI
        if self.refresh_policy == "BANK_LEVEL_STAGGERED":
            return self.tREFIb
        return self.tREFI // self.ranks

    def compose(self, ra=0, bg=0, ba=0, ro=0, co=0, ch=0) -> int:
        vals = dict(ch=ch, ra=ra, bg=bg, ba=ba, ro=ro, co=co)
        a = 0
        for f, v in vals.items():
            assert 0 <= v < (1 << self.field_width[f]) or (v == 0), (f, v)
            a |= v << self.field_pos[f]
        return a << self.shift_bits

    def decompose(self, addr: int) -> dict:
        a = addr >> self.shift_bits
        return {f: (a >> self.field_pos[f]) & ((1 << self.field_width[f]) - 1)
                for f in self.field_pos}


def set_ini_value(text: str, section: str, key: str, value) -> str:
    """Replace (or insert) key=value inside [section], keeping the rest."""
    lines = text.splitlines()
    out, in_sec, done, sec_seen = [], False, False, False
    for ln in lines:
        s = ln.strip()
        if s.startswith("[") and s.endswith("]"):
            if in_sec and not done:
                out.append(f"{key} = {value}")
                done = True
            in_sec = s[1:-1].strip().lower() == section.lower()
            sec_seen |= in_sec
            out.append(ln)
            continue
        if in_sec and "=" in s and s.split("=", 1)[0].strip().lower() == key.lower():
            out.append(f"{key} = {value}")
            done = True
            continue
        out.append(ln)
    if not done:
        if not sec_seen:
            out.append(f"[{section}]")
        out.append(f"{key} = {value}")
    return "\n".join(out) + "\n"


def make_ini(src: Path, dst: Path, refresh: bool) -> Path:
    text = src.read_text()
    text = set_ini_value(text, "system", "channels", 1)
    # no epoch dumps inside the runs (stats-only; timing unaffected)
    text = set_ini_value(text, "other", "epoch_period", REFRESH_OFF_TREFI)
    text = set_ini_value(text, "other", "output_level", 1)
    if not refresh:
        text = set_ini_value(text, "timing", "tREFI", REFRESH_OFF_TREFI)
        text = set_ini_value(text, "timing", "tREFIb", REFRESH_OFF_TREFI)
    dst.write_text(text)
    return dst


# --------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------

def timing_rows(std: str, cfg: Cfg):
    S = lambda k: cfg.src.get(k.lower(), "derived")  # noqa: E731
    rows = []

    def add(key, value, unit, source=None):
        rows.append(dict(standard=std, key=key, value=value, unit=unit,
                         source=source or S(key)))

    add("protocol", cfg.protocol, "", "ini")
    add("channels", cfg.channels, "count", "ini (overridden to 1)")
    add("channel_size", cfg.channel_size, "MiB",
        "derived (ranks*rank_size; ini channel_size=%d)" % cfg.channel_size_ini)
    add("ranks", cfg.ranks, "count", "derived (channel_size / rank size)")
    add("bankgroups", cfg.bankgroups, "count")
    add("banks_per_group", cfg.banks_per_group, "count")
    add("banks", cfg.banks, "count (per rank)", "derived")
    add("rows", cfg.rows, "count (per bank)")
    add("columns", cfg.columns_ini, "count (ini)", "ini")
    add("columns_effective", cfg.columns, "count (device-width columns per row)",
        "derived (HBM: x2 prefetch)" if cfg.is_hbm else "derived (= ini)")
    add("device_width", cfg.device_width, "bits")
    add("devices_per_rank", cfg.devices_per_rank, "count", "derived (bus_width/device_width)")
    add("BL", cfg.BL, "beats")
    add("burst_cycle", cfg.burst_cycle, "tCK", "derived (BL/2)")
    add("bus_width", cfg.bus_width, "bits")
    add("request_size_bytes", cfg.request_size_bytes, "bytes", "derived (bus_width/8*BL)")
    add("row_size_per_rank", cfg.page_size * cfg.devices_per_rank, "bytes",
        "derived (columns_effective*bus_width/8)")
    add("bursts_per_row", cfg.columns // cfg.BL, "count", "derived")
    add("tCK", cfg.tCK, "ns")
    add("data_rate", round(2 / cfg.tCK * 1000, 1), "MT/s", "derived (2/tCK)")
    add("peak_bandwidth", round(cfg.peak_gb_s, 4), "GB/s", "derived (bus_width/8*2/tCK)")
    for k in ["AL", "CL", "CWL"]:
        add(k, getattr(cfg, k), "tCK")
    add("RL", cfg.RL, "tCK", "derived (AL+CL)")
    add("WL", cfg.WL, "tCK", "derived (AL+CWL)")
    add("read_delay", cfg.read_delay, "tCK", "derived (RL+burst_cycle)")
    add("write_delay", cfg.write_delay, "tCK", "derived (WL+burst_cycle)")
    if cfg.is_hbm or cfg.is_gddr:
        add("tRCDRD", cfg.tRCDRD, "tCK")
        add("tRCDWR", cfg.tRCDWR, "tCK")
        add("tRCD", cfg.tRCD, "tCK", S("tRCD") + " (unused for HBM/GDDR: tRCDRD/tRCDWR used)")
    else:
        add("tRCD", cfg.tRCD, "tCK")
    add("tRP", cfg.tRP, "tCK")
    add("tRAS", cfg.tRAS, "tCK")
    add("tRC", cfg.tRC, "tCK", "derived (tRAS+tRP; any ini tRC ignored)")
    for k in ["tRRD_S", "tRRD_L", "tFAW", "tCCD_S", "tCCD_L", "tWTR_S", "tWTR_L"]:
        add(k, getattr(cfg, k), "tCK")
    extra = ""
    if cfg._raw("timing", "tRTP_L") is not None:
        extra = (" (ini has tRTP_L=%s/tRTP_S=%s which DRAMsim3 does NOT read)"
                 % (cfg._raw("timing", "tRTP_L"), cfg._raw("timing", "tRTP_S")))
    add("tRTP", cfg.tRTP, "tCK", S("tRTP") + extra)
    add("tWR", cfg.tWR, "tCK")
    add("tRTRS", cfg.tRTRS, "tCK")
    add("tPPD", cfg.tPPD, "tCK", S("tPPD") + ("" if (cfg.is_gddr or cfg.protocol == "LPDDR4")
                                          else " (only used for GDDR/LPDDR4)"))
    add("tRFC", cfg.tRFC, "tCK")
    add("tREFI", cfg.tREFI, "tCK", S("tREFI") + " (refresh=off runs: %d)" % REFRESH_OFF_TREFI)
    add("tRFCb", cfg.tRFCb, "tCK", S("tRFCb") + " (only BANK_LEVEL_STAGGERED)")
    add("tREFIb", cfg.tREFIb, "tCK", S("tREFIb") + " (only BANK_LEVEL_STAGGERED)")
    add("refresh_policy", cfg.refresh_policy, "")
    add("refresh_issue_interval", cfg.refresh_interval, "tCK",
        "derived (refresh.cc: STAGGERED -> tREFI/ranks, one rank per REF)")
    for k in ["tRPRE", "tWPRE", "tXS", "tXP", "tCKE", "tCKESR"]:
        add(k, getattr(cfg, k), "tCK")
    # command-to-command constraints as built by timing.cc
    c = cfg
    rr_l, rr_s = max(c.burst_cycle, c.tCCD_L), max(c.burst_cycle, c.tCCD_S)
    if c.bankgroups == 1:
        rr_l = rr_s
    derived = [
        ("read_to_read_same_bg", rr_l, "max(burst_cycle,tCCD_L)"),
        ("read_to_read_other_bg", rr_s, "max(burst_cycle,tCCD_S)"),
        ("read_to_read_other_rank", c.burst_cycle + c.tRTRS, "burst_cycle+tRTRS"),
        ("read_to_write", c.RL + c.burst_cycle - c.WL + c.tRTRS, "RL+burst_cycle-WL+tRTRS"),
        ("read_to_write_other_rank",
         c.read_delay + c.burst_cycle + c.tRTRS - c.write_delay,
         "read_delay+burst_cycle+tRTRS-write_delay"),
        ("write_to_read_same_bg", c.write_delay + (c.tWTR_S if c.bankgroups == 1 else c.tWTR_L),
         "write_delay+tWTR_L"),
        ("write_to_read_other_bg", c.write_delay + c.tWTR_S, "write_delay+tWTR_S"),
        ("write_to_read_other_rank",
         c.write_delay + c.burst_cycle + c.tRTRS - c.read_delay,
         "write_delay+burst_cycle+tRTRS-read_delay"),
        ("write_to_write_same_bg", rr_l, "max(burst_cycle,tCCD_L)"),
        ("write_to_write_other_bg", rr_s, "max(burst_cycle,tCCD_S)"),
        ("write_to_write_other_rank", c.burst_cycle, "burst_cycle"),
        ("read_to_precharge", c.AL + c.tRTP, "AL+tRTP"),
        ("write_to_precharge", c.WL + c.burst_cycle + c.tWR, "WL+burst_cycle+tWR"),
        ("activate_to_read", c.tRCDRD if (c.is_hbm or c.is_gddr) else c.tRCD - c.AL,
         "tRCDRD" if (c.is_hbm or c.is_gddr) else "tRCD-AL"),
        ("activate_to_write", c.tRCDWR if (c.is_hbm or c.is_gddr) else c.tRCD - c.AL,
         "tRCDWR" if (c.is_hbm or c.is_gddr) else "tRCD-AL"),
        ("activate_to_precharge", c.tRAS, "tRAS"),
        ("activate_to_activate_same_bank", c.tRC, "tRC"),
        ("activate_to_activate_same_bg", c.tRRD_S if c.bankgroups == 1 else c.tRRD_L, "tRRD_L"),
        ("activate_to_activate_other_bg", c.tRRD_S, "tRRD_S"),
        ("precharge_to_activate", c.tRP, "tRP"),
        ("refresh_to_activate", c.tRFC, "tRFC"),
    ]
    for k, v, f in derived:
        add("cmd:" + k, v, "tCK", "derived (timing.cc: %s)" % f)
    # address mapping
    add("address_mapping", cfg.address_mapping, "MSB->LSB fields", "ini")
    for f in ["ro", "ch", "ra", "bg", "ba", "co"]:
        if cfg.field_width[f] == 0:
            add(f"addr_bits_{f}", "width=0", "byte-address bit position,width",
                "derived (SetAddressMapping; field absent)")
            continue
        add(f"addr_bits_{f}", f"pos={cfg.field_pos[f] + cfg.shift_bits},width={cfg.field_width[f]}",
            "byte-address bit position,width", "derived (SetAddressMapping)")
    add("addr_offset_bits", cfg.shift_bits, "bits", "derived (log2 request_size_bytes)")
    # controller
    add("row_buf_policy", cfg.row_buf_policy, "")
    add("queue_structure", cfg.queue_structure, "")
    add("cmd_queue_size", cfg.cmd_queue_size, "entries per queue (per bank if PER_BANK)")
    add("trans_queue_size", cfg.trans_queue_size, "entries (read queue; write buffer same size)")
    add("unified_queue", cfg.unified_queue, "")
    add("write_buffer_size", cfg.trans_queue_size, "entries",
        "derived (= trans_queue_size; ini write_buf_size is unused)")
    add("write_drain_policy", "drain when write buffer full, or >8 writes and all cmd queues empty",
        "", "controller.cc")
    add("open_page_rowhit_cap", 4, "row hits before a pending conflict may precharge",
        "command_queue.cc (ArbitratePrecharge)")
    add("hbm_dual_cmd", cfg.hbm_dual_cmd, "", S("hbm_dual_cmd") + " (HBM: RW + non-RW per cycle)")
    add("enable_self_refresh", cfg.enable_self_refresh, "")
    add("scheduler", "round robin over command queues (one queue per bank), first-ready "
        "command in order within a queue; precharge deferred while row hits are queued "
        "(up to open_page_rowhit_cap)", "", "command_queue.cc")
    add("trans_to_cmd_queue_per_cycle", 1, "transactions/cycle",
        "controller.cc (ScheduleTransaction: first trans whose bank queue has room)")
    add("commands_per_cycle", 2 if cfg.hbm_dual_cmd else 1, "commands/cycle",
        "controller.cc" + (" (HBM dual cmd: 1 RD/WR + 1 ACT/PRE)" if cfg.hbm_dual_cmd else ""))
    add("idle_read_overhead", 1, "tCK",
        "measured (latency - [tRP]+[tRCD]+RL+burst_cycle, see dramsim3_latency.csv)")
    return rows


# --------------------------------------------------------------------------
