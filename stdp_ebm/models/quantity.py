"""Model-file parameter values (``"20*ms"``) parsed through the syntax tree, with bounded work.

Nothing is eval'd: the text is parsed with :func:`ast.parse` and walked over numbers, Brian2 unit
names, ``*``, ``/``, ``**`` with an integer exponent and unary signs. A parameter is data a user
edits (or a file someone hands them), so every step is bounded: the text is at most
:data:`MAX_CHARS` characters (which also bounds the tree's depth), an exponent at most
:data:`MAX_EXPONENT` in size, numbers are floats from the start (no unbounded integer arithmetic:
``"9**999999999"`` is refused at once, not computed) and every intermediate value must be finite
and not underflow to zero (``"10**400"``, ``"1e308*10"``, ``"1/0"``, ``"1e-300/1e300"`` are refused, not
an ``OverflowError``, an infinity or a silent zero).
"""

from __future__ import annotations

import ast
import math
from typing import Any

import numpy as np

from ..errors import ModelFileError

__all__ = ["parse_quantity", "MAX_CHARS", "MAX_EXPONENT"]

#: longest parameter text (a quantity such as "0.5*nA/ms**2" needs a few dozen characters)
MAX_CHARS = 200
#: largest size of the exponent n in ``x**n`` (units need squares and cubes; 1e±300 needs no
#: power of 10)
MAX_EXPONENT = 32


def parse_quantity(text: str, where: str = "value") -> Any:
    """Parse ``"20*ms"``, ``"-70*mV"``, ``"1e-3"``, ``"0.5*nA/ms**2"`` without eval.

    Allowed: numbers, Brian2 unit names, ``*``, ``/``, ``**`` (an integer exponent n, ``abs(n)`` ≤
    :data:`MAX_EXPONENT`), unary ``-``/``+``.

    Parameters
    ----------
    text : str
        The value as written in a model file.
    where : str
        What the value is, for the error message (e.g. ``"file.toml: [parameters] tau"``).

    Returns
    -------
    float or brian2.Quantity
        A float for a unitless value, else a Brian2 quantity.

    Raises
    ------
    ModelFileError
        For anything else, text longer than :data:`MAX_CHARS` or a value that is not finite, naming
        ``where``.
    """
    from brian2 import units
    from brian2.units.fundamentalunits import Unit

    def bad(reason: str = "is not 'number*unit' (e.g. \"20*ms\")") -> ModelFileError:
        return ModelFileError(f"{where}: {text!r} {reason}")

    def finite(value: Any, *operands: Any) -> Any:
        """``value`` if finite, and not zero where every operand is non-zero (underflow)."""
        raw = np.asarray(value, dtype=float)
        if not np.all(np.isfinite(raw)):
            raise bad("is not a finite number (too large, too small or divided by zero)")
        if operands and np.all(raw == 0) and all(np.all(np.asarray(o, dtype=float) != 0)
                                                  for o in operands):
            raise bad("underflows to zero")
        return value

    def exponent(node: ast.AST) -> int:
        sign = 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            sign, node = (-1 if isinstance(node.op, ast.USub) else 1), node.operand
        if not (isinstance(node, ast.Constant) and type(node.value) is int):
            raise bad("has a power that is not an integer")
        if abs(node.value) > MAX_EXPONENT:
            raise bad(f"has a power larger than {MAX_EXPONENT}")
        return sign * node.value

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            try:
                return finite(float(node.value))
            except OverflowError:
                raise bad("is not a finite number (too large)") from None
        if isinstance(node, ast.Name):
            unit = getattr(units, node.id, None)
            if not isinstance(unit, Unit):
                raise ModelFileError(f"{where}: '{node.id}' is not a Brian2 unit")
            return unit
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
            if isinstance(node.op, ast.Pow):
                base, power = walk(node.left), exponent(node.right)
                if power < 0 and np.all(np.asarray(base, dtype=float) == 0):
                    raise bad("divides by zero")
                return finite(base ** power, base)
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, ast.Div) and np.all(np.asarray(right, dtype=float) == 0):
                raise bad("divides by zero")
            return finite(left * right if isinstance(node.op, ast.Mult) else left / right,
                          left, right)
        raise bad()

    if not isinstance(text, str):
        raise ModelFileError(f"{where}: {text!r} must be a string such as \"20*ms\"")
    if len(text) > MAX_CHARS:
        raise ModelFileError(f"{where}: longer than {MAX_CHARS} characters; not 'number*unit'")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise bad() from None
    with np.errstate(all="ignore"):  # overflow is caught by finite(), not warned about
        try:
            value = walk(tree.body)
        except (OverflowError, ZeroDivisionError):
            raise bad("is not a finite number (too large, too small or divided by zero)") \
                from None
    if isinstance(value, float) and not math.isfinite(value):
        raise bad("is not a finite number")
    return value
