"""All-bank-bundle read mode of an HBM pseudo-channel (Duplex, MICRO'24, Sec 4.3): the rate
at which a logic-die unit streams data out of one bundle of banks read in lock step.

Duplex splits the 16 banks of a rank and pseudo-channel into an upper and a lower bundle of
eight (two banks per bank group); one command reaches every bank of a bundle, and "Logic-PIM
reads a total of 512 bits from two banks per bank group at intervals defined by tCCD_L" [P Sec
4.3], through added TSVs, not the channel's data bus. A pseudo-channel holds four bundles (two
ranks x two). The authors' Ramulator2 patch (shenjiangqiu/LLMSimulator@3a0ea80:
patch/ramulator2_pim.patch) gives the bundle commands ALL-ACT / ALL-RD / ALL-PRE rank-level
rules: ALL-RD -> ALL-RD = nCCDL, ALL-ACT -> ALL-RD = nRCDRD, ALL-ACT -> ALL-ACT = nRC.

Per pseudo-channel, with b = banks per bundle (bank groups x banks per group in the bundle),
B = one bank's column (the standard's burst bytes), R = row_bytes / B columns per row:

* column time of one bundle row-set (one row in each of its b banks):  T_col = R x tCCD_L
  (ALL-RD every tCCD_L, each reading B bytes from every bank: b x B bytes);
* activation spacing: the bundle's ALL-ACT opens b rows; with ``faw`` the four-activate
  window and tRRD_S apply to those b activations (a power rule the authors' patch does not
  impose on ALL-ACT; on Duplex's bundles it never binds), and the same bundle re-activates
  after tRC while the other ``bundles`` - 1 stream, so
  T_act = max(tFAW x b / 4, tRRD_S x b [with faw], tRC / bundles);
* exposed time: a bundle's ALL-RD -> ALL-PRE -> ALL-ACT -> ALL-RD turnaround
  (tRTP + tRP + tRCD) hides behind the other bundles' reads:
  exposed = max(0, tRTP + tRP + tRCD - (bundles - 1) x T_col) (all of it with one bundle);
* T_row = max(T_col, T_act) + exposed; rate = b x row_bytes / T_row per tCK, times the
  refresh share (1 - tRFC / tREFI) when refresh is on.

Against the channel's normal path (bus_bits / 8 x beats_per_ck bytes per tCK) the ratio is
b x B / tCCD_L / (bus bytes x beats per tCK): on Duplex's HBM3 (b = 8, B = 32 B, tCCD_L = 4,
32-bit bus at 4 beats per tCK) 64 / 16 = 4x, the paper's "4x higher bandwidth" [P Sec 4.3],
as long as T_col >= T_act (here 128 tCK against 78).
"""
from __future__ import annotations

from dataclasses import dataclass

from ...errors import AccelsimError
from .standard import Standard

#: activations the four-activate window admits
FAW_ACTS = 4


@dataclass(frozen=True)
class BundleRead:
    """One pseudo-channel's all-bank-bundle read mode (module docstring)."""

    banks_per_bundle: int
    bundles: int
    row_ck: float          # tCK per bundle row-set (b rows)
    bytes_per_row: float   # b x row_bytes
    column_ck: float       # tCK of the row-set's column reads alone (R x tCCD_L)
    refresh_factor: float
    tck_ns: float
    normal_bytes_per_ck: float
    bound: str
    #: tCK a bundle's banks are held per row-set: its column reads plus its own
    #: ALL-RD -> ALL-PRE -> ALL-ACT -> ALL-RD turnaround (tRTP + tRP + tRCD), hidden or not
    hold_ck: float = 0.0

    @property
    def bytes_per_ck(self) -> float:
        """Sustained bytes per tCK of one pseudo-channel (refresh included)."""
        return self.bytes_per_row / self.row_ck * self.refresh_factor

    @property
    def gb_s(self) -> float:
        """Sustained GB/s of one pseudo-channel."""
        return self.bytes_per_ck / self.tck_ns

    @property
    def peak_gb_s(self) -> float:
        """Column-rate GB/s of one pseudo-channel (b x B per tCCD_L: no activation, no
        refresh), the figure a paper's '4x' or '16x' names."""
        return self.bytes_per_row / self.column_ck / self.tck_ns

    def bank_time_share(self, weight: float, busy: float) -> float:
        """Share of the time the banks of one bundle (one memory space, Duplex Sec 5.3) are
        held by a bundle-read stream that puts ``weight`` of its bytes there and streams for
        ``busy`` of its duration at the sustained rate: per row-set the stream takes
        row_ck / refresh tCK of the pseudo-channel and holds that bundle hold_ck, so
        share = min(1, weight x busy x hold_ck x refresh / row_ck). One space read alone at
        the full rate: hold_ck / row_ck > 1 on duplex_hbm3 (174 / 128 x 0.91), capped at 1."""
        return min(1.0, weight * busy * self.hold_ck * self.refresh_factor / self.row_ck)

    @property
    def column_ratio(self) -> float:
        """Bundle column rate / the channel's normal bus peak (b x B per tCCD_L against the
        bus's bytes per tCK; no activation, no refresh): Duplex's "4x" on duplex_hbm3 (Logic-PIM,
        the authors' ``logic_x``), 16x with every bank in one bundle (Bank-PIM, ``pim_x``)."""
        return self.bytes_per_row / self.column_ck / self.normal_bytes_per_ck

    @property
    def ratio(self) -> float:
        """Bundle rate / the channel's normal bus peak, both with the same refresh share."""
        return self.bytes_per_ck / (self.normal_bytes_per_ck * self.refresh_factor)


def bundle_read(std: Standard, banks_per_group: int = 2, refresh: bool = True,
                faw: bool = True) -> BundleRead:
    """The all-bank-bundle read mode of one pseudo-channel of ``std`` with
    ``banks_per_group`` banks of every bank group in a bundle (Duplex: 2; all of them: every
    bank at once, Bank-PIM); ``faw``: apply tFAW / tRRD_S to a bundle's activations."""
    o, t = std.organisation, std.timing
    if banks_per_group <= 0 or o.banks % (o.bankgroups * banks_per_group):
        raise AccelsimError(f"bank bundle of {banks_per_group} bank(s) per bank group does not "
                            f"divide the {o.banks} banks ({o.bankgroups} bank groups) of a "
                            f"{std.standard} pseudo-channel")
    b = o.bankgroups * banks_per_group
    bundles = o.banks // b
    col_bytes = o.burst_bytes
    columns = o.row_bytes / col_bytes
    t_col = columns * t.tCCD_L
    terms = {"column reads (tCCD_L)": t_col, "bundle re-activation (tRC)": t.tRC / bundles}
    if faw:
        terms |= {"bundle activations (tFAW)": t.tFAW * b / FAW_ACTS,
                  "bundle activations (tRRD_S)": float(t.tRRD_S * b)}
    bound = max(terms, key=terms.get)
    exposed = max(0.0, t.tRTP + t.tRP + t.tRCD - (bundles - 1) * t_col)
    row_ck = terms[bound] + exposed
    if exposed:
        bound += " + exposed activation"
    factor = 1.0 - t.tRFC / t.tREFI if refresh else 1.0
    if refresh:
        bound += "; refresh"
    return BundleRead(b, bundles, row_ck, float(b * o.row_bytes), t_col, factor, t.tCK_ns,
                      o.bus_bits / 8 * o.beats_per_ck, bound,
                      hold_ck=t_col + t.tRTP + t.tRP + t.tRCD)


def bundle_read_ck(std: Standard, nbytes: float, channels: int, banks_per_group: int = 2,
                   refresh: bool = True, faw: bool = True) -> float:
    """tCK to stream ``nbytes`` spread evenly over ``channels`` pseudo-channels in bundle mode
    at the sustained rate (a fluid estimate: data placement packs small tensors of several
    requests into shared row-sets, so no per-tensor row rounding)."""
    if channels <= 0:
        raise AccelsimError(f"bundle reads need at least one pseudo-channel, got {channels}")
    return nbytes / (channels * bundle_read(std, banks_per_group, refresh, faw).bytes_per_ck)
