"""Template filters of the portal (registered as builtins in settings: no {% load %} needed)."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def get(mapping: Any, key: Any) -> Any:
    """``mapping|get:key``: a dictionary value by a key held in a variable (None when missing)."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None


@register.filter
def num(value: Any, digits: int = 3) -> str:
    """A number with ``digits`` decimals; None (an undefined metric) is shown as a dash, never as 0."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):.{int(digits)}f}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def pvalue(value: Any) -> str:
    """A p-value in a readable form (scientific when tiny)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.2e}" if number < 0.001 else f"{number:.3f}"


@register.filter
def interval(pair: Any, digits: int = 3) -> str:
    """A confidence interval ``[low, high]`` as text."""
    try:
        low, high = (float(x) for x in pair)
    except (TypeError, ValueError):
        return "–"
    return f"{low:.{int(digits)}f} – {high:.{int(digits)}f}"


@register.filter
def outcome_label(value: Any) -> str:
    """Outcome words people read: pass, fail, insufficient evidence."""
    return {"insufficient_evidence": "insufficient evidence"}.get(str(value), str(value or "–"))


@register.filter
def short_hash(value: Any, length: int = 12) -> str:
    """The first characters of a hash, enough to tell two apart on screen."""
    text = str(value or "")
    return text[: int(length)] + ("…" if len(text) > int(length) else "")
