"""An action's refusal in a portal form's own words.

The actions speak the API's language: their messages name API fields (``collected_from is after collected_to.``)
and their errors carry the API field at fault (``ActionError.field``). A form shows the same refusal under the field
it concerns, with each API name replaced by that field's label, so a person reads "“Collected from” is after
“Collected to”." and never an API name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from governance.access.actions import ActionError


def in_labels(message: str, form: Any, names: Mapping[str, str]) -> str:
    """``message`` with each API name of ``names`` (API name -> form field) replaced by the field's label, in one pass.
    Only names that read as identifiers (with an underscore) are replaced: "name" or "file" are words too. A list's
    index (``training_datasets[0]``) is said as the item's place, counted from one."""
    wanted = sorted((n for n in names if "_" in n), key=len, reverse=True)
    if not wanted:
        return message
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(n) for n in wanted) + r")(?:\[(\d+)\])?(?!\w)")

    def label(match: re.Match[str]) -> str:
        said = f"“{form.fields[names[match.group(1)]].label}”"
        return f"{said} (item {int(match.group(2)) + 1})" if match.group(2) is not None else said

    return pattern.sub(label, message)


def place_refusal(form: Any, exc: ActionError, names: Mapping[str, str], *, fallback: str | None = None) -> str:
    """Put an action's refusal under the form field it concerns (``exc.field`` by ``names``; else ``fallback``; else
    above the form), in the form's words; return the message."""
    message = in_labels(str(exc), form, names)
    field = names.get(getattr(exc, "field", "") or "", fallback)
    form.add_error(field, message)
    return message
