"""Safe expressions over dotted names, for constraints, derived values and derived metrics.

Python syntax restricted to arithmetic, comparisons, ``and``/``or``/``not``, conditional
expressions, number/string literals and a few math functions. Names are dotted paths
(``units.sa.rows``, ``bytes.dram_read``, ``latency_s``); they are looked up in a mapping at
evaluation time. Anything else (attribute access on values, subscripts, lambdas, imports) is
rejected when the expression is parsed, so evaluation cannot run arbitrary code.

Evaluation is bounded too: ``**`` and ``*`` refuse integer results of more than
``MAX_INT_BITS`` bits and strings longer than ``MAX_STR_LEN`` characters, ``%`` does not format
strings, and ``round`` takes at most ``MAX_ROUND_DIGITS`` digits (``2 ** 2 ** 40`` or
``'a' * 10 ** 12`` would otherwise hang or exhaust memory). Parts of an expression that read no
name are checked when it is parsed, so such a bomb is refused before anything runs; the rest
raise ``ExprLimitError`` when evaluated.
"""
from __future__ import annotations

import ast
import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

#: the largest integer an expression may compute, in bits (about 3000 decimal digits)
MAX_INT_BITS = 10_000
#: the longest string an expression may build by repetition (``'ab' * 3``)
MAX_STR_LEN = 100_000
#: the most digits ``round(x, n)`` may be asked for (either sign)
MAX_ROUND_DIGITS = 1_000
#: the longest expression text accepted
MAX_EXPR_LEN = 10_000


class ExprError(ValueError):
    """An expression that does not parse or uses something not allowed."""


class ExprLimitError(ExprError):
    """An evaluation that would exceed the bounds above (a result too large to compute)."""


def _is_int(x: Any) -> bool:
    return isinstance(x, int)  # bool included: True * 'a' is 'a'


def _int_bits(x: int) -> int:
    return max(int(x).bit_length(), 1)


def _pow(a: Any, b: Any) -> Any:
    if _is_int(a) and _is_int(b) and b > 0 and abs(a) > 1:
        bits = (_int_bits(a) - 1) * b  # a lower bound of the result's size
        if bits > MAX_INT_BITS:
            raise ExprLimitError(f"{a} ** {b} is too large to compute (more than "
                                 f"{MAX_INT_BITS:,} bits)")
    return a ** b


def _mul(a: Any, b: Any) -> Any:
    if isinstance(a, str) or isinstance(b, str):
        text, count = (a, b) if isinstance(a, str) else (b, a)
        if _is_int(count) and len(text) * count > MAX_STR_LEN:
            raise ExprLimitError(f"repeating a string {count:,} times is too large (more than "
                                 f"{MAX_STR_LEN:,} characters)")
    elif _is_int(a) and _is_int(b) and _int_bits(a) + _int_bits(b) > MAX_INT_BITS + 1:
        raise ExprLimitError(f"a product of more than {MAX_INT_BITS:,} bits is too large to "
                             f"compute")
    return a * b


def _mod(a: Any, b: Any) -> Any:
    if isinstance(a, str):
        raise ExprLimitError("'%' does not format strings in expressions")
    return a % b


def _round(x: Any, *digits: Any) -> Any:
    if digits and _is_int(digits[0]) and abs(digits[0]) > MAX_ROUND_DIGITS:
        raise ExprLimitError(f"round() to {digits[0]} digits is out of range (at most "
                             f"{MAX_ROUND_DIGITS} either way)")
    return round(x, *digits)


_GUARDS: dict[str, Callable[..., Any]] = {"_pow": _pow, "_mul": _mul, "_mod": _mod}
_GUARD_OF = {ast.Pow: "_pow", ast.Mult: "_mul", ast.Mod: "_mod"}

FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min, "max": max, "abs": abs, "round": _round, "int": int, "float": float,
    "sqrt": math.sqrt, "log": math.log, "log2": math.log2, "log10": math.log10,
    "ceil": math.ceil, "floor": math.floor, "exp": math.exp,
}
_ALLOWED = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp,
            ast.Constant, ast.Name, ast.Attribute, ast.Call, ast.Load,
            ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
            ast.USub, ast.UAdd, ast.Not, ast.And, ast.Or,
            ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)
_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "=="}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "=="}
ENV = "_env"


def _globals(env: Mapping[str, Any]) -> dict[str, Any]:
    return {"__builtins__": {}, ENV: env, **FUNCTIONS, **_GUARDS}


@dataclass(frozen=True)
class Bound:
    """``name OP value`` with a numeric constant, e.g. ``area_mm2 <= 100``."""

    name: str
    op: str
    value: float


@dataclass(frozen=True)
class Expr:
    """A parsed expression: its text, the dotted names it reads, and compiled code."""

    text: str
    names: tuple[str, ...]
    bounds: tuple[Bound, ...]
    _code: Any = field(repr=False, compare=False)
    _sides: tuple[Any, Any, str] | None = field(repr=False, compare=False, default=None)

    def __reduce__(self) -> tuple:
        return (parse_expr, (self.text,))  # code objects do not pickle; parse again

    def __call__(self, env: Mapping[str, Any]) -> Any:
        """Evaluate with names looked up in ``env`` (KeyError for a missing name)."""
        return eval(self._code, _globals(env))

    def violation(self, env: Mapping[str, Any]) -> float:
        """How far a constraint is from holding: <= 0 when it holds, > 0 when it does not.

        For one comparison ``a <= b`` this is ``a - b`` (the optimiser uses the distance);
        for any other boolean expression it is 0 or 1. NaN operands count as violated.
        """
        try:
            ok = bool(self(env))
        except (ArithmeticError, TypeError, ValueError):
            return 1.0
        if self._sides is None:
            return 0.0 if ok else 1.0
        lhs_code, rhs_code, op = self._sides
        g = _globals(env)
        try:
            diff = float(eval(lhs_code, g)) - float(eval(rhs_code, g))
        except (ArithmeticError, TypeError, ValueError):
            return 1.0
        if math.isnan(diff):
            return 1.0
        if op in (">", ">="):
            diff = -diff
        elif op == "==":
            diff = abs(diff)
        return min(diff, 0.0) if ok else max(diff, 1e-12)


def dotted(node: ast.AST) -> str | None:
    """``a.b.c`` for a chain of attribute accesses on a name, else None."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


class _Rewrite(ast.NodeTransformer):
    """Replace dotted names by ``_env["a.b.c"]`` and record them."""

    def __init__(self) -> None:
        self.names: list[str] = []

    def _lookup(self, name: str, node: ast.AST) -> ast.AST:
        if name not in self.names:
            self.names.append(name)
        sub = ast.Subscript(value=ast.Name(id=ENV, ctx=ast.Load()),
                            slice=ast.Constant(value=name), ctx=ast.Load())
        return ast.copy_location(sub, node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        name = dotted(node)
        if name is None:
            raise ExprError("attribute access is only allowed in dotted names like a.b.c")
        return self._lookup(name, node)

    def visit_Name(self, node: ast.Name) -> ast.AST:
        return self._lookup(node.id, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """``a ** b``, ``a * b`` and ``a % b`` call their bounded versions (``_pow`` ...)."""
        node = self.generic_visit(node)
        guard = _GUARD_OF.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right],
                        keywords=[])
        return ast.copy_location(call, node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
            allowed = ", ".join(sorted(FUNCTIONS))
            raise ExprError(f"only these functions may be called (positional arguments only): "
                            f"{allowed}")
        node.args = [self.visit(a) for a in node.args]
        return node


def parse_expr(text: str) -> Expr:
    """Parse ``text``; raise ExprError (with a short reason) if it is not allowed."""
    try:
        return _parse(text)
    except (RecursionError, MemoryError):
        raise ExprError("expression is nested too deeply") from None


def _parse(text: str) -> Expr:
    if not isinstance(text, str) or not text.strip():
        raise ExprError("expected a non-empty expression string")
    if len(text) > MAX_EXPR_LEN:
        raise ExprError(f"expression is {len(text):,} characters long (at most {MAX_EXPR_LEN:,})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExprError(f"not a valid expression: {e.msg}") from None
    except (RecursionError, MemoryError):
        raise ExprError("expression is nested too deeply") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExprError(f"{type(node).__name__} is not allowed in expressions")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
            raise ExprError(f"literal {node.value!r} is not allowed")
    bounds = _bounds(tree.body)
    sides = None
    body = tree.body
    if isinstance(body, ast.Compare) and len(body.ops) == 1 and type(body.ops[0]) in _CMP:
        # copies: the rewrite below changes the tree in place
        sides = (copy.deepcopy(body.left), copy.deepcopy(body.comparators[0]),
                 _CMP[type(body.ops[0])])
    _check_constants(tree.body)
    rw = _Rewrite()
    try:
        tree = ast.fix_missing_locations(rw.visit(tree))
        code = compile(tree, "<expr>", "eval")
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None
    compiled_sides = None
    if sides is not None:
        lhs, rhs = (compile(ast.fix_missing_locations(ast.Expression(body=_Rewrite().visit(s))),
                            "<expr>", "eval") for s in sides[:2])
        compiled_sides = (lhs, rhs, sides[2])
    return Expr(text.strip(), tuple(rw.names), bounds, code, compiled_sides)


def _check_constants(node: ast.AST) -> None:
    """Evaluate the largest parts of ``node`` that read no name, so that a bomb such as
    ``2 ** 2 ** 40`` is refused now (ExprError) instead of when a point is evaluated."""
    if isinstance(node, ast.Constant) or not isinstance(node, ast.expr):
        return  # literals, and operator / context nodes (ast.Pow, ast.Load)
    if not _reads_names(node):
        rw = _Rewrite()
        body = rw.visit(copy.deepcopy(node))  # the rewrite changes nodes in place
        code = compile(ast.fix_missing_locations(ast.Expression(body=body)),
                       "<expr>", "eval")
        try:
            eval(code, _globals({}))
        except ExprLimitError as e:
            raise ExprError(str(e)) from None
        except Exception:  # noqa: BLE001 - 1/0 and the like fail later, per point, as before
            pass
        return
    for child in ast.iter_child_nodes(node):
        _check_constants(child)


def _reads_names(node: ast.AST) -> bool:
    """Whether ``node`` reads a dotted name (a called function's name does not count)."""
    if isinstance(node, (ast.Name, ast.Attribute)):
        return True
    if isinstance(node, ast.Call):
        return any(_reads_names(a) for a in node.args)
    return any(_reads_names(c) for c in ast.iter_child_nodes(node))


def _const(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
            and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _const(node.operand)
        return None if v is None else (-v if isinstance(node.op, ast.USub) else v)
    return None


def _bounds(node: ast.AST) -> tuple[Bound, ...]:
    """Simple bounds implied by ``node``: comparisons of one name with constants, and-ed."""
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        return tuple(b for v in node.values for b in _bounds(v))
    if not isinstance(node, ast.Compare):
        return ()
    out: list[Bound] = []
    terms = [node.left, *node.comparators]
    for left, op, right in zip(terms, node.ops, terms[1:]):
        sym = _CMP.get(type(op))
        if sym is None:
            continue
        lname, rname = dotted(left), dotted(right)
        lval, rval = _const(left), _const(right)
        if lname and rval is not None:
            out.append(Bound(lname, sym, rval))
        elif rname and lval is not None:
            out.append(Bound(rname, _FLIP[sym], lval))
    return tuple(out)


def contradiction(bounds: list[tuple[Bound, Any]]) -> tuple[str, Any, Any] | None:
    """The first name whose bounds admit no value: (name, tag of one bound, tag of another).

    ``bounds`` pairs each Bound with a caller's tag (e.g. which constraint it came from).
    """
    lo: dict[str, tuple[float, bool, Any]] = {}
    hi: dict[str, tuple[float, bool, Any]] = {}
    for b, tag in bounds:
        if b.op in (">", ">=", "=="):
            new = (b.value, b.op == ">", tag)
            cur = lo.get(b.name)
            if cur is None or (new[0], new[1]) > (cur[0], cur[1]):
                lo[b.name] = new
        if b.op in ("<", "<=", "=="):
            new = (b.value, b.op == "<", tag)
            cur = hi.get(b.name)
            if cur is None or (new[0], not new[1]) < (cur[0], not cur[1]):
                hi[b.name] = new
        if b.name in lo and b.name in hi:
            (lv, ls, lt), (hv, hs, ht) = lo[b.name], hi[b.name]
            if lv > hv or (lv == hv and (ls or hs)):
                return b.name, lt, ht
    return None
