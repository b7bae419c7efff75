"""The constraint/derived-value expression language: safe, dotted names, bounds."""
from __future__ import annotations

import math
import pickle

import pytest

from accelsim.dse.expr import Bound, ExprError, contradiction, parse_expr


def test_dotted_names_arithmetic_and_functions():
    e = parse_expr("max(units.sa.rows, 2) * log2(memory.dram.bandwidth_gb_s) <= 1e4")
    assert e.names == ("units.sa.rows", "memory.dram.bandwidth_gb_s")
    assert e({"units.sa.rows": 128, "memory.dram.bandwidth_gb_s": 1024}) is True
    assert e({"units.sa.rows": 2048, "memory.dram.bandwidth_gb_s": 1024}) is False
    assert parse_expr("'ws' if a > 1 else 'os'")({"a": 2}) == "ws"


def test_missing_name_is_a_key_error():
    with pytest.raises(KeyError):
        parse_expr("a + b")({"a": 1})


@pytest.mark.parametrize("text, why", [
    ("__import__('os').system('x')", "only these functions"),
    ("a.__class__", None),  # a dotted name, looked up (and missing), never an attribute access
    ("a[0]", "Subscript"),
    ("(lambda: 1)()", "Lambda"),
    ("[x for x in a]", "ListComp"),
    ("a +", "not a valid expression"),
    ("", "non-empty"),
    ("f(x=1)", "keyword is not allowed"),
    ("min(a, b=1)", "keyword is not allowed"),
    ("(a).b.c", None),
])
def test_unsafe_or_bad_expressions_are_rejected(text, why):
    if why is None:
        e = parse_expr(text)
        assert len(e.names) == 1 and e.names[0].startswith("a.")
        with pytest.raises(KeyError):
            e({"a": 1})
        return
    with pytest.raises(ExprError, match=why):
        parse_expr(text)


def test_bounds_of_simple_comparisons():
    assert parse_expr("area_mm2 <= 100").bounds == (Bound("area_mm2", "<=", 100.0),)
    assert parse_expr("100 > x").bounds == (Bound("x", "<", 100.0),)
    assert parse_expr("0 < x <= -2").bounds == (Bound("x", ">", 0.0), Bound("x", "<=", -2.0))
    assert parse_expr("x < 1 and y >= 2").bounds == (Bound("x", "<", 1.0), Bound("y", ">=", 2.0))
    assert parse_expr("x < 1 or y >= 2").bounds == ()
    assert parse_expr("x * 2 < 1").bounds == ()


@pytest.mark.parametrize("texts, bad", [
    (["x <= 1", "x >= 2"], "x"),
    (["x < 1", "x >= 1"], "x"),
    (["x <= 1", "x >= 1"], None),
    (["x == 3", "x < 3"], "x"),
    (["x == 3", "x <= 3", "y > 0"], None),
    (["0 < x <= -2"], "x"),
    (["x < 5", "y > 7", "x > 4"], None),
])
def test_contradiction(texts, bad):
    pairs = [(b, t) for t in texts for b in parse_expr(t).bounds]
    found = contradiction(pairs)
    assert (found[0] if found else None) == bad


def test_violation_distance_for_optimisers():
    e = parse_expr("latency_s <= 0.5")
    assert e.violation({"latency_s": 0.75}) == pytest.approx(0.25)
    assert e.violation({"latency_s": 0.25}) == pytest.approx(-0.25)
    assert parse_expr("x >= 2").violation({"x": 1}) == pytest.approx(1)
    assert parse_expr("x >= 2 and y").violation({"x": 1, "y": True}) == 1.0
    assert parse_expr("x <= 1").violation({"x": math.nan}) == 1.0


def test_expressions_pickle_for_workers():
    e = pickle.loads(pickle.dumps(parse_expr("a.b * 2 > c")))
    assert e({"a.b": 2, "c": 3}) is True and e.names == ("a.b", "c")
