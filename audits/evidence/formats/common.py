"""What every reader of another tool's result file returns, and the limits every reader keeps (pure: no Django).

A result file becomes :class:`ParsedEvidence`: the tool, its version, and its measurements in one normalised form
(:class:`Measurement`: task or probe, metric, value, sample size, and the per-item outcomes when the file has them).
A file that is not what it claims, too large, too deep or too many is refused with :class:`EvidenceFormatError`,
whose message names the problem; nothing is stored before a reader has accepted the whole file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Largest result file accepted, and (for the .eval zip) the most its members may unpack to.
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_UNPACKED_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 20_000
#: A zip member may expand at most this many times its compressed size (a zip bomb expands far more).
MAX_COMPRESSION_RATIO = 200
#: Measurements kept from one file, and per-item outcomes kept per measurement.
MAX_MEASUREMENTS = 5_000
MAX_ITEMS = 200_000
MAX_TEXT = 200  # a task, metric or item name is cut to this many characters


class EvidenceFormatError(ValueError):
    """The file is not a valid result of the tool it was taken for; the message says why."""


@dataclass(frozen=True)
class ItemOutcome:
    """One item a tool judged (a sample, a prompt, an attempt's output): its id within the task, and whether it counts
    toward the metric (``hit``: a correct answer for an accuracy, a successful attack for an attack success rate)."""

    item: str
    hit: bool


@dataclass
class Measurement:
    """One metric of one task (or probe) as the tool reported it.

    ``value`` is the tool's own number. ``sample_size`` is how many items it rests on (None when the file does not
    say). ``outcomes`` are the per-item results when the file lists them; then ``successes`` of ``sample_size``
    items are hits, and ``value`` is ``successes / sample_size`` as the tool computed it. ``higher_is_better`` says
    which way the tool reads the metric (None when the file does not say).
    """

    task: str
    metric: str
    value: float | None
    sample_size: int | None = None
    successes: int | None = None
    outcomes: list[ItemOutcome] | None = None
    higher_is_better: bool | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.task = clip(self.task)
        self.metric = clip(self.metric)
        if self.value is not None and not math.isfinite(self.value):
            self.value = None
        if self.outcomes is not None:
            if len(self.outcomes) > MAX_ITEMS:
                raise EvidenceFormatError(
                    f"{self.task} {self.metric}: {len(self.outcomes):,} items; at most {MAX_ITEMS:,} per metric"
                )
            self.sample_size = len(self.outcomes)
            self.successes = sum(1 for outcome in self.outcomes if outcome.hit)


@dataclass
class ParsedEvidence:
    """A result file read: which tool wrote it (and which version), its format, and its measurements."""

    tool: str
    tool_version: str
    format: str
    measurements: list[Measurement]
    summary: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.measurements:
            raise EvidenceFormatError(f"the {self.tool} file holds no measurement to import")
        if len(self.measurements) > MAX_MEASUREMENTS:
            raise EvidenceFormatError(
                f"the file holds {len(self.measurements):,} measurements; at most {MAX_MEASUREMENTS:,} are accepted"
            )
        self.tool_version = clip(self.tool_version or "unknown")


def clip(text: Any) -> str:
    """A name as stored: text, at most MAX_TEXT characters, no NUL."""
    return str(text).replace("\x00", "\ufffd")[:MAX_TEXT]


def loads(raw: bytes | str, *, what: str) -> Any:
    """JSON text as plain values; EvidenceFormatError naming ``what`` when it is not JSON."""
    try:
        return json.loads(raw, parse_constant=_allow_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise EvidenceFormatError(f"{what} is not valid JSON: {exc}") from None


def _allow_constant(name: str) -> float:
    # Several tools (lm-evaluation-harness, Evidently) write NaN for a metric they could not compute; read it as a
    # float NaN, which a Measurement turns into "no value", never into 0.
    return float("nan")


def read_json_file(path: Path, *, what: str) -> Any:
    """A JSON file as plain values, refusing one over MAX_FILE_BYTES before reading it."""
    check_size(path)
    return loads(path.read_bytes(), what=what)


def check_size(path: Path) -> int:
    """The file's size; EvidenceFormatError when it is over MAX_FILE_BYTES."""
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise EvidenceFormatError(f"the file is {size:,} bytes; at most {MAX_FILE_BYTES:,} are accepted")
    if size == 0:
        raise EvidenceFormatError("the file is empty")
    return size


def json_lines(path: Path, *, what: str) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of a JSON Lines file."""
    check_size(path)
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, loads(line, what=f"{what} line {number}")


def mapping(value: Any, *, what: str) -> dict[str, Any]:
    """``value`` when it is a JSON object, else EvidenceFormatError naming ``what``."""
    if not isinstance(value, dict):
        raise EvidenceFormatError(f"{what} must be a JSON object, got {type(value).__name__}")
    return value


def number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (text, null, a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def count(value: Any, *, what: str) -> int:
    """A non-negative integer count; EvidenceFormatError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EvidenceFormatError(f"{what} must be a non-negative integer, got {value!r}")
    return value


def optional_mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one (for optional, informative parts of a file)."""
    return value if isinstance(value, dict) else {}
