"""Transformation rules a field mapping may name (BC's "Transformation Rule"). Pure.

A rule applies to the source value before it is transferred. Names: UPPERCASE, LOWERCASE, TRIM,
NON-NEGATIVE (a negative number is sent as 0, as BC does for price and quantity on hand) and
``PREFIX:<text>`` (BC names a unit group "NAV " + the unit's code).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any


def _non_negative(value: Any) -> Any:
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) and value < 0:
        return Decimal(0) if isinstance(value, Decimal) else 0
    return value


_RULES: dict[str, Callable[[Any], Any]] = {
    "UPPERCASE": lambda v: v.upper() if isinstance(v, str) else v,
    "LOWERCASE": lambda v: v.lower() if isinstance(v, str) else v,
    "TRIM": lambda v: v.strip() if isinstance(v, str) else v,
    "NON-NEGATIVE": _non_negative,
}

PREFIX = "PREFIX:"


class UnknownRule(ValueError):
    """A field mapping names a transformation rule we do not have."""


def check_rule(name: str) -> None:
    if name and name not in _RULES and not name.startswith(PREFIX):
        raise UnknownRule(f"The transformation rule {name} does not exist.")


def apply_rule(name: str, value: Any) -> Any:
    if not name:
        return value
    if name.startswith(PREFIX):
        return f"{name[len(PREFIX) :]}{value}" if isinstance(value, str) and value else value
    check_rule(name)
    return _RULES[name](value)


def reverse_rule(name: str, value: Any) -> Any:
    """The Sales -> BC direction of a prefix rule ("NAV PCS" -> "PCS"); other rules apply as they are."""
    if name.startswith(PREFIX):
        prefix = name[len(PREFIX) :]
        return value[len(prefix) :] if isinstance(value, str) and value.startswith(prefix) else value
    return apply_rule(name, value)
