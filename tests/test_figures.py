"""Figures fit for a paper: TrueType fonts, column/double sizes with nothing clipped, legends
outside the data, optional titles, units on axes, stable family colours, readable heat-map
labels, every Pareto design shown, the binding roofline ceiling; ``accelsim plot`` on a run's
JSON, ``accelsim compare``, and one ``--json [FILE|-]`` convention."""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import accelsim
from accelsim.cli import build_parser, main
from accelsim.dse.evaluate import flatten
from accelsim.errors import AccelsimError
from accelsim.report import plots
from accelsim.report.jsonout import JSON_HELP

from conftest import gemm_trace
from dse_util import ARCH, LLAMA, ROOT, write_exp
from test_dse_runner import GRID

PARETO_FAMILIES = ["GPU (A100 80 GB)", "GPU (H100 / H200 memory)", "LUT Tensor Core",
                   "systolic (output-stationary)", "systolic (weight-stationary)", "MixPE"]


@pytest.fixture(scope="module")
def decode():
    arch = accelsim.load_arch(ARCH)
    return arch, accelsim.simulate(arch, accelsim.load_workload(LLAMA), "op")


def _frame(n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    fam = ["systolic (weight-stationary)", "LUT Tensor Core", "GPU (A100 80 GB)"]
    return pd.DataFrame({"latency_s": rng.random(n), "area_mm2": rng.random(n) * 100,
                         "family": [fam[i % 3] for i in range(n)],
                         "units.sa.rows": np.repeat([32, 64, 128, 256], n // 4),
                         "memory.dram.bandwidth_gb_s": np.tile([256, 512, 1024], n // 3)})


_FIGURES: dict = {}


def _figures(decode, size):
    """The figures of every plot function at ``size`` (made once per test session)."""
    if size not in _FIGURES:
        _FIGURES[size] = _make_figures(decode, size)
    return _FIGURES[size]


def _make_figures(decode, size):
    arch, res = decode
    df = _frame()
    return {
        "pareto": plots.plot_pareto(df, "area_mm2", "latency_s", size=size),
        "heatmap": plots.plot_heatmap(df, "units.sa.rows", "memory.dram.bandwidth_gb_s",
                                      "latency_s", size=size, title="a heat map"),
        "breakdown": plots.plot_breakdown({"first design": res, "second design": res},
                                          size=size),
        "roofline": plots.plot_roofline(res, arch, size=size),
        "timeline": plots.plot_timeline(res, size=size),
        "compare": plots.plot_compare({"design one": res, "design two": res}, size=size),
    }


# ---------------------------------------------------------------------------- fonts

def pdf_font_subtypes(data: bytes) -> set[str]:
    """Subtypes of the font dictionaries of a PDF (matplotlib writes them uncompressed)."""
    out = set()
    for m in re.finditer(rb"/Type\s*/Font\b", data):
        window = data[m.start(): m.start() + 400]
        sub = re.search(rb"/Subtype\s*/(\w+)", window)
        if sub:
            out.add(sub.group(1).decode())
    return out


def test_pdf_eps_svg_use_truetype_never_type3(decode, tmp_path):
    df = _frame()
    fig = plots.plot_pareto(df, "area_mm2", "latency_s",
                            senses={"latency_s": "max"})  # "↑" and "mm²" in the labels
    pdf = plots.save_figure(fig, tmp_path / "f.pdf").read_bytes()
    kinds = pdf_font_subtypes(pdf)
    assert kinds and "Type3" not in kinds and b"/Type3" not in pdf
    assert {"Type0", "CIDFontType2"} <= kinds or "TrueType" in kinds
    assert b"/FontFile2" in pdf  # the TrueType program is embedded
    small, ax = plots.new_figure("column")  # EPS embedding is slow: a small figure
    ax.set_xlabel(plots.metric_label("area_mm2"))
    eps = plots.save_figure(small, tmp_path / "f.eps")
    text = eps.read_bytes()
    assert b"/FontType 42" in text and b"/FontType 3" not in text
    svg = plots.save_figure(plots.plot_pareto(df, "area_mm2", "latency_s"),
                            tmp_path / "f.svg").read_text()
    assert "<text" not in svg and "<path" in svg  # glyphs as paths: no font needed to view it


def test_the_font_check_would_catch_type3(tmp_path):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    import matplotlib
    fig = Figure()
    FigureCanvasAgg(fig)
    fig.add_subplot().set_title("Area (mm²)")
    with matplotlib.rc_context({"pdf.fonttype": 3}):
        fig.savefig(tmp_path / "t3.pdf")
    assert "Type3" in pdf_font_subtypes((tmp_path / "t3.pdf").read_bytes())


# ---------------------------------------------------------------------------- sizes, layout

def _png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 - 0.5 and b.x0 < a.x1 - 0.5 and a.y0 < b.y1 - 0.5 and b.y0 < a.y1 - 0.5


@pytest.mark.parametrize("size", ["column", "double"])
def test_presets_keep_their_width_and_clip_nothing(decode, size, tmp_path):
    w, h = plots.SIZES[size]
    for name, fig in _figures(decode, size).items():
        if name == "compare" and size == "column":  # two panels, one above the other
            h = fig.get_size_inches()[1]
        assert tuple(fig.get_size_inches()) == pytest.approx((w, h)), name
        assert plots.texts_outside(fig) == [], name
        renderer = fig.canvas.get_renderer()
        for ax in fig.axes:
            leg = ax.get_legend()
            if leg is not None:  # legends beside the data, never over it
                assert not _overlaps(leg.get_window_extent(renderer),
                                     ax.get_window_extent(renderer)), name
            ticks = [t.get_window_extent(renderer) for t in ax.get_xticklabels()
                     if t.get_visible() and t.get_text()]
            assert not any(_overlaps(a, b) for i, a in enumerate(ticks) for b in ticks[i + 1:]), name
        if name in ("pareto", "compare"):  # the saved image keeps the size (300 dpi PNG)
            png = plots.save_figure(fig, tmp_path / f"{name}.png")
            assert _png_size(png) == (round(w * 300), round(h * 300)), name


def test_the_clipping_check_sees_text_outside():
    fig, ax = plots.new_figure("column")
    fig.text(1.05, 0.5, "off the page")
    assert plots.texts_outside(fig) == ["off the page"]


def test_long_titles_and_labels_wrap_instead_of_clipping(decode):
    df = _frame()
    long = "a very long title that would never fit in one line of a single column figure " * 2
    fig = plots.plot_pareto(df.rename(columns={"area_mm2": "units.some_unit.sram.weights_kb"}),
                            "units.some_unit.sram.weights_kb", "latency_s", title=long)
    assert plots.texts_outside(fig) == []


def test_titles_can_be_dropped(decode):
    for name, fig in _figures(decode, "column").items():
        assert fig.get_suptitle() or any(a.get_title() for a in fig.axes) or name == "heatmap"
    arch, res = decode
    df = _frame()
    for fig in (plots.plot_pareto(df, "area_mm2", "latency_s", title=None),
                plots.plot_roofline(res, arch, title=None), plots.plot_timeline(res, title=None),
                plots.plot_breakdown({"a": res}, title=None),
                plots.plot_heatmap(df, "units.sa.rows", "memory.dram.bandwidth_gb_s",
                                   "latency_s", title=None)):
        assert not fig.get_suptitle() and not any(a.get_title() for a in fig.axes)


def test_sizes_are_checked():
    assert plots.figure_size((5, 3)) == (5.0, 3.0)
    with pytest.raises(AccelsimError, match="column or double"):
        plots.figure_size("wide")
    with pytest.raises(AccelsimError, match="between 0 and 50"):
        plots.figure_size((0, 3))


# ---------------------------------------------------------------------------- units

def test_every_summary_metric_has_a_unit(decode):
    _, res = decode
    flat = flatten(res.summary())
    names = [k for k, v in flat.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    names += ["tokens", "tokens_per_s", "energy_per_token_j"]
    missing = [n for n in names if not re.search(r"\(.+\)$", plots.metric_label(n))]
    assert not missing, missing
    assert plots.metric_label("tops_per_mm2") == "Area efficiency (TOPS/mm²)"
    assert plots.metric_label("energy.dram") == "energy DRAM (J)"
    assert plots.metric_label("area.sa.pe_mac") == "area sa pe mac (mm²)"


def test_every_numeric_axis_is_labelled_with_a_unit(decode):
    for name, fig in _figures(decode, "column").items():
        ax = fig.axes[0]
        labels = [ax.get_ylabel()] if name in ("breakdown", "timeline", "compare") else []
        labels += [ax.get_xlabel()] if name not in ("breakdown", "compare") else []
        if name in ("pareto", "roofline", "heatmap"):
            labels.append(ax.get_ylabel())
        for lab in labels:
            if lab != "Unit":  # the timeline's unit names: categories, not numbers
                assert re.search(r"\(.+\)", lab), (name, lab)
    assert plots.axis_label("units.sa.rows") == "sa rows (PEs)"
    assert plots.axis_label("latency_s") == "Latency (s)"


# ---------------------------------------------------------------------------- colours

def test_family_colours_are_fixed_and_independent_of_the_others():
    a = plots.family_colors(["my new family", "systolic"])
    b = plots.family_colors(["LUT Tensor Core", "my new family", "zzz", "another one"])
    assert a["my new family"] == b["my new family"]
    assert plots.family_color("LUT Tensor Core") == plots.family_color("lut  tensor core")
    assert plots.family_color("systolic") == "#0072B2"
    known = {plots.family_color(f) for f in PARETO_FAMILIES}
    assert len(known) == len(PARETO_FAMILIES)  # families shown together never share a colour
    mixpe = ["ANT", "BitFusion", "FP16 (dequant + MAC)", "INT8 (dequant + MAC)",
             "LUT Tensor Core", "MixPE", "MixPE-W4A8 (grid)", "OLAccel"]
    assert len({plots.family_color(f) for f in mixpe}) == len(mixpe)
    # the hashed colour is SHA-256 of the name, not Python's per-process string hash
    digest = hashlib.sha256(b"my new family").digest()[:8]
    pal = plots.FAMILY_PALETTE
    assert a["my new family"] == pal[int.from_bytes(digest, "big") % len(pal)]


def test_a_family_has_its_colour_in_every_figure():
    from matplotlib.colors import to_hex
    df = _frame()
    for fams in (["systolic (weight-stationary)", "LUT Tensor Core"],
                 ["GPU (A100 80 GB)", "systolic (weight-stationary)", "MixPE"]):
        sub = df.assign(family=[fams[i % len(fams)] for i in range(len(df))])
        ax = plots.plot_pareto(sub, "area_mm2", "latency_s").axes[0]
        leg = ax.get_legend()
        for text, handle in zip(leg.get_texts(), leg.legend_handles):
            name = text.get_text().replace("\n", " ").replace("- ", "-")
            if name in fams:
                assert to_hex(handle.get_facecolor()[0]) == plots.family_color(name).lower()
    t = pd.DataFrame({"LUT Tensor Core": [1.0, 2.0], "systolic": [2.0, 1.0]}, index=[10, 20])
    ax = plots.plot_grouped(t, ylabel="Throughput (tokens/s)").axes[0]
    assert to_hex(ax.patches[0].get_facecolor()) == plots.family_color("LUT Tensor Core").lower()


def test_colliding_hashed_families_get_distinct_markers():
    taken = {plots.family_color(f) for f in ("systolic",)}
    twin = next(f"family {i}" for i in range(1000) if plots.family_color(f"family {i}") in taken)
    assert plots._collisions(["systolic", twin]) == {"systolic": 0, twin: 1} or \
        plots._collisions(["systolic", twin]) == {twin: 0, "systolic": 1}


# ---------------------------------------------------------------------------- heat map

def _contrast(a, b) -> float:
    la, lb = sorted([plots._luminance(a), plots._luminance(b)], reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_heatmap_labels_contrast_with_their_cells():
    from matplotlib.colors import to_rgba
    df = pd.DataFrame({"a": np.repeat(np.arange(6), 6), "b": np.tile(np.arange(6), 6),
                       "v": np.linspace(0.1, 3.0, 36)})
    fig = plots.plot_heatmap(df, "a", "b", "v", log=False)
    ax = fig.axes[0]
    im = ax.images[0]
    vals = np.asarray(im.get_array())
    colours = set()
    assert len(ax.texts) == 36
    for t in ax.texts:
        j, i = (round(c) for c in t.get_position())
        cell = im.cmap(im.norm(vals[i, j]))
        assert _contrast(to_rgba(t.get_color()), cell) >= 4.5, (t.get_text(), t.get_color())
        colours.add(t.get_color())
    assert colours == {"black", "white"}  # viridis runs from dark to light
    assert plots.texts_outside(fig) == []


def test_heatmap_leaves_out_labels_that_would_not_fit():
    df = pd.DataFrame({"a": np.repeat(np.arange(12), 12), "b": np.tile(np.arange(12), 12),
                       "v": np.linspace(1e-7, 3e-5, 144)})
    ax = plots.plot_heatmap(df, "a", "b", "v", size="column").axes[0]
    sizes = {t.get_fontsize() for t in ax.texts}
    assert not ax.texts or min(sizes) >= 3.5


# ---------------------------------------------------------------------------- pareto

def test_pareto_counts_identical_designs_and_draws_infeasible_hollow():
    df = _frame(60)
    df.loc[0:4, ["latency_s", "area_mm2"]] = [0.01, 1.0]   # five identical systolic designs
    df.loc[0:4, "family"] = "systolic (weight-stationary)"
    df.loc[5, ["latency_s", "area_mm2", "family"]] = [0.01, 1.0, "LUT Tensor Core"]
    df["feasible"] = True
    df.loc[10:15, "feasible"] = False
    df.loc[10, ["latency_s", "area_mm2"]] = [0.0001, 0.1]  # would dominate everything
    fig = plots.plot_pareto(df, "area_mm2", "latency_s")
    ax = fig.axes[0]
    counts = [t.get_text() for t in ax.texts]
    assert "×6" in counts  # six designs at one point (two colours), said once
    hollow = [c for c in ax.collections if len(c.get_offsets())
              and (len(c.get_facecolors()) == 0 or c.get_facecolors()[0][3] == 0)]
    assert sum(len(c.get_offsets()) for c in hollow) == 6
    front = [c for c in ax.collections if len(c.get_offsets()) and c.get_linewidths()[0] > 0
             and c not in hollow]
    front_xy = np.concatenate([c.get_offsets() for c in front])
    assert not ((np.isclose(front_xy[:, 0], 0.1)) & (np.isclose(front_xy[:, 1], 1e-4))).any()
    # the two colours at (1, 0.01) are set apart along x, both drawn
    xs = sorted(float(x) for c in front for x, y in c.get_offsets() if np.isclose(y, 0.01))
    assert len(xs) == 2 and xs[0] < 1.0 < xs[1]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "infeasible" in labels and "Pareto frontier" in labels
    # every design is accounted for: markers' counts sum to the rows
    assert "60 designs at" in fig.get_suptitle()


# ---------------------------------------------------------------------------- roofline

def test_roofline_names_the_ceiling_that_binds(decode):
    arch, res = decode
    g = plots.op_ceilings(res, arch)
    qkv = g.xs("qkv_proj", level="op").iloc[0]
    assert qkv["bound"] == "compute"            # what the simulation says ...
    assert qkv["ceiling"] == "weight"          # ... and why: M=16 rows on a 128-row ws array
    assert qkv["efficiency"] == pytest.approx(16 / 128, rel=0.01)
    fig = plots.plot_roofline(res, arch)
    ax = fig.axes[0]
    labels = [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]
    assert "bound: sa weight load (ws)" in labels
    assert any(lab.startswith("sa weight load ceiling (4.1 TFLOP/s)") for lab in labels)
    assert "weight load" in fig.get_suptitle() and "sa roof (32.8 TFLOP/s)" in labels
    # a large GEMM fills the array: its peak binds; with a slow DRAM, the DRAM does
    big = accelsim.simulate(arch, gemm_trace(2048, 2048, 2048, dtype="bf16"), "op")
    assert set(plots.op_ceilings(big, arch)["ceiling"]) == {"compute"}
    slow = accelsim.load_arch(ARCH, ["memory.dram.bandwidth_gb_s=4"])
    res2 = accelsim.simulate(slow, gemm_trace(16, 4096, 4096, dtype="bf16"), "op")
    assert list(plots.op_ceilings(res2, slow)["ceiling_label"]) == ["DRAM bandwidth"]


# ---------------------------------------------------------------------------- CLI: plot

@pytest.fixture(scope="module")
def run_json(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "r.json"
    assert main(["run", str(ARCH), str(LLAMA), "--json", str(out), "--quiet"]) == 0
    return out


@pytest.mark.parametrize("kind", ["breakdown", "roofline", "timeline"])
def test_plot_a_runs_json(run_json, kind, tmp_path, capsys):
    out = tmp_path / f"{kind}.pdf"
    assert main(["plot", str(run_json), kind, "-o", str(out), "--size", "double",
                 "--no-title"]) == 0
    assert out.read_bytes()[:4] == b"%PDF" and b"/Type3" not in out.read_bytes()
    assert main(["plot", str(run_json), kind]) == 0   # default: beside the JSON
    assert (run_json.parent / f"r_{kind}.png").is_file()


def test_plot_a_runs_json_errors(run_json, tmp_path, capsys):
    assert main(["plot", str(run_json), "pareto"]) == 2
    assert "needs a result store" in capsys.readouterr().err
    old = json.loads(run_json.read_text())
    del old["arch_config"]
    p = tmp_path / "old.json"
    p.write_text(json.dumps(old))
    assert main(["plot", str(p), "roofline", "-o", str(tmp_path / "x.png")]) == 2
    assert "--arch" in capsys.readouterr().err
    assert main(["plot", str(p), "roofline", "--arch", str(ARCH), "-o",
                 str(tmp_path / "x.png")]) == 0
    other = ROOT / "configs" / "tpu_v1.yaml"
    assert main(["plot", str(p), "roofline", "--arch", str(other), "-o",
                 str(tmp_path / "x.png")]) == 2
    assert "config hash" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}')
    assert main(["plot", str(bad), "timeline"]) == 2
    assert "not a run's JSON" in capsys.readouterr().err


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("figstore")
    exp = write_exp(tmp, GRID + "constraints: ['latency_s < 3e-6']\n")
    assert main(["sweep", str(exp), "--store", str(tmp / "s"), "--workers", "1",
                 "--no-progress"]) == 0
    return tmp / "s"


def test_plot_store_sizes_titles_and_timeline(store, tmp_path, capsys):
    out = tmp_path / "p.png"
    assert main(["plot", str(store), "pareto", "--x", "latency_s", "--y", "utilization",
                 "--size", "column", "--no-title", "-o", str(out)]) == 0
    assert _png_size(out) == (999, 750)   # infeasible points too (hollow): every design
    assert main(["plot", str(store), "timeline", "-o", str(tmp_path / "t.svg"),
                 "--include-infeasible", "--title", "one point"]) == 0
    assert "<!-- one point -->" in (tmp_path / "t.svg").read_text()  # drawn as glyph paths
    assert main(["plot", str(store), "heatmap", "--x", "units.sa.rows", "--y",
                 "memory.dram.bandwidth_gb_s", "--include-infeasible", "--size", "double",
                 "-o", str(tmp_path / "h.png")]) == 0
    assert _png_size(tmp_path / "h.png") == (2100, 900)


# ---------------------------------------------------------------------------- CLI: compare

@pytest.fixture()
def two_archs(tmp_path):
    (tmp_path / "tiny.yaml").write_text((ROOT / "tests" / "dse_util.py").read_text().split(
        'TINY_TRACE = """\\\n')[1].split('"""')[0])
    small = tmp_path / "sa64.yaml"
    small.write_text(f"extends: {ARCH}\nname: sa64\nunits:\n  sa: {{rows: 64, cols: 64}}\n")
    return str(ARCH), str(small), str(tmp_path / "tiny.yaml")


def test_compare_prints_json_and_a_figure(two_archs, tmp_path, capsys):
    a, b, wl = two_archs
    fig = tmp_path / "cmp.pdf"
    assert main(["compare", a, b, wl, "--save", str(fig)]) == 0
    out = capsys.readouterr().out
    assert "sa128-bf16" in out and "sa64" in out and "speed-up vs first" in out
    assert fig.read_bytes()[:4] == b"%PDF"
    assert main(["compare", a, b, wl, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert [r["label"] for r in d["designs"]] == ["sa128-bf16", "sa64"]
    assert d["designs"][0]["speedup_vs_first"] == 1 and d["iso_area"] is None


def test_compare_iso_area_sizes_to_the_first(two_archs, capsys):
    a, b, wl = two_archs
    assert main(["compare", a, b, wl, "--iso-area", "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    first, second = d["designs"]
    budget = d["iso_area"]["budget_mm2"]
    assert first["sized"] is None and first["summary"]["area_mm2"] == pytest.approx(budget)
    assert set(second["sized"]["values"]) == {"units.sa.rows", "units.sa.cols"}  # natural
    assert 0.9 * budget <= second["summary"]["area_mm2"] <= budget
    assert main(["compare", a, b, wl, "--iso-area", "--area-mm2", "20", "--knob",
                 "units.sa.rows", "--json", "-"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert all(set(r["sized"]["values"]) == {"units.sa.rows"} for r in d["designs"])
    assert main(["compare", a, wl]) == 2
    assert "two or more" in capsys.readouterr().err
    assert main(["compare", a, b, wl, "--knob", "units.sa.rows"]) == 2
    assert "apply to --iso-area" in capsys.readouterr().err


# ---------------------------------------------------------------------------- --json

def _json_actions():
    ap = build_parser()

    def walk(parser, path):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sp in action.choices.items():
                    yield from walk(sp, path + (name,))
            elif action.dest == "json":
                yield path, action
    return list(walk(ap, ()))


def test_every_json_option_takes_file_or_dash():
    found = _json_actions()
    paths = {p for p, _ in found}
    assert {("run",), ("gemm",), ("list",), ("units",), ("validate",), ("workload", "list"),
            ("workload", "show"), ("sweep",), ("pareto",), ("size",), ("compare",)} <= paths
    for path, action in found:
        assert action.nargs == "?" and action.const == "-", path
        assert JSON_HELP in action.help, path


@pytest.mark.parametrize("argv, check", [
    (["list", "--json"], lambda d: "unit" in d and "memory" in d),
    (["list", "--json", "unit"], lambda d: list(d) == ["unit"]),  # an interface, not a file
    (["units", "--json", "-"], lambda d: any(u["name"] == "systolic_array" for u in d["unit"])),
    (["validate", str(ARCH), "--json"], lambda d: d["ok"] and d["name"] == "sa128-bf16"
     and d["resolved"]["units"]["sa"]["rows"] == 128),
    (["workload", "list", "--json", "-"], lambda d: any(m["model"] == "llama2-7b"
                                                        for m in d["models"])),
    (["size", str(ARCH), "--area-mm2", "30", "--knob", "units.sa.rows", "--json", "-"],
     lambda d: d["values"]["units.sa.rows"] > 128),
])
def test_json_to_stdout_is_json_alone(argv, check, capsys):
    assert main(argv) == 0
    assert check(json.loads(capsys.readouterr().out))


def test_json_to_a_file_keeps_the_usual_output(tmp_path, capsys):
    out = tmp_path / "v.json"
    assert main(["validate", str(ARCH), "--json", str(out)]) == 0
    assert "ok" in capsys.readouterr().out and json.loads(out.read_text())["ok"]
    out = tmp_path / "w.json"
    assert main(["workload", "show", "llama2-7b", "--json", str(out)]) == 0
    assert "qkv_proj" in capsys.readouterr().out  # the table, as without --json
    assert json.loads(out.read_text())["name"].startswith("llama2-7b")
    out = tmp_path / "m.json"
    assert main(["workload", "list", "--json", str(out)]) == 0
    assert "Model zoo" in capsys.readouterr().out and json.loads(out.read_text())["models"]
    out = tmp_path / "u.json"
    assert main(["list", "memory", "--json", str(out)]) == 0
    assert list(json.loads(out.read_text())) == ["memory"]
