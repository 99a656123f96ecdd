"""A safe evaluator for a ``multi`` grader's ``calculate_output`` formula.

The formula comes from a user's (or a remote client's) JSON, so it is never handed to
``eval()``: it is parsed with ``ast`` and only numbers, the sub-graders' names, arithmetic,
comparisons and a few math functions are accepted.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping

FUNCTIONS: dict[str, Callable[..., float]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sqrt": math.sqrt,
    "log": math.log,
    "exp": math.exp,
    "floor": math.floor,
    "ceil": math.ceil,
}

_BINARY = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type[ast.unaryop], Callable[[float], float]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_COMPARE = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
#: A formula longer than this is refused: it is a few grader names and weights, and a huge
#: one (``9**9**9`` aside) would only cost the server time.
MAX_FORMULA = 2000


class FormulaError(ValueError):
    """A formula that cannot be parsed or uses something not allowed."""


def parse(formula: object) -> ast.Expression:
    if not isinstance(formula, str) or not formula.strip():
        raise FormulaError("the formula is empty")
    if len(formula) > MAX_FORMULA:
        raise FormulaError(f"the formula is longer than {MAX_FORMULA} characters")
    try:
        tree = ast.parse(formula.strip(), mode="eval")
    except SyntaxError as exc:
        raise FormulaError(f"invalid formula at column {exc.offset}: {exc.msg}") from None
    for node in ast.walk(tree):
        _check(node)
    return tree


def names(formula: object) -> set[str]:
    """The variable names a formula uses (function names excluded)."""
    tree = parse(formula)
    called = {
        n.func.id
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
    }
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


def _check(node: ast.AST) -> None:
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.UnaryOp,
        ast.Compare,
        ast.Call,
        ast.Name,
        ast.Constant,
        ast.Load,
        ast.IfExp,
        *_BINARY,
        *_UNARY,
        *_COMPARE,
    )
    if not isinstance(node, allowed):
        raise FormulaError(f"{type(node).__name__} is not allowed in a formula")
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, bool) or not isinstance(node.value, int | float)
    ):
        raise FormulaError(f"only numbers are allowed as constants, not {node.value!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise FormulaError(
                f"unknown function in the formula (allowed: {', '.join(sorted(FUNCTIONS))})"
            )
        if node.keywords:
            raise FormulaError("keyword arguments are not allowed in a formula")


def evaluate(formula: str, variables: Mapping[str, float]) -> float:
    """The formula's value with ``variables`` bound; FormulaError for anything else."""
    tree = parse(formula)
    try:
        value = _eval(tree.body, variables)
    except ZeroDivisionError:
        raise FormulaError("division by zero in the formula") from None
    except (OverflowError, ValueError) as exc:
        raise FormulaError(f"the formula cannot be computed: {exc}") from None
    return float(value)


def _eval(node: ast.AST, env: Mapping[str, float]) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):  # all, after _check
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in env:
            raise FormulaError(f"unknown name {node.id!r} in the formula")
        return env[node.id]
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise FormulaError("an exponent over 100 is not allowed in a formula")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp):
        return _UNARY[type(node.op)](_eval(node.operand, env))
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, env)
            if not _COMPARE[type(op)](left, right):
                return 0.0
            left = right
        return 1.0
    if isinstance(node, ast.IfExp):
        return _eval(node.body, env) if _eval(node.test, env) else _eval(node.orelse, env)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):  # all, after _check
        return FUNCTIONS[node.func.id](*(_eval(a, env) for a in node.args))
    raise FormulaError(f"{type(node).__name__} is not allowed in a formula")
