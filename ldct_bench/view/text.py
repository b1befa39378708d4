"""How numbers and text are written into the page: escaped, None as a dash, intervals in brackets."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

DASH = "-"


def esc(value: Any) -> str:
    return html.escape(str(value))


def num(value: float | None, digits: int = 2) -> str:
    return DASH if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    """With its sign; a value that rounds to zero is +0.00, never -0.00."""
    return DASH if value is None else f"{round(value, digits) + 0.0:+.{digits}f}"


def interval(pair: Sequence[float | None] | None, digits: int = 2) -> str:
    """`[low, high]`, or nothing when the interval is unknown."""
    if not pair or pair[0] is None or pair[1] is None:
        return ""
    return f"[{pair[0]:.{digits}f}, {pair[1]:.{digits}f}]"


def sort_value(value: Any) -> str:
    """A data-* attribute value the page's script sorts by; empty (sorted last) when there is none."""
    if value is None:
        return ""
    return esc(f"{value:.6g}" if isinstance(value, float) else value)
