"""The refusal of a file (:class:`IngestError`) and the limits on how wide a table, how long a value and how large an
unpacked Parquet file may be (:class:`IngestLimits`, read from the settings installed with :func:`use_settings`).

Standard library only (pyarrow is imported where a table is checked): no Django.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa


class IngestError(ValueError):
    """A file Assay cannot accept; ``str(exc)`` is a message for the user that names the problem (row, column,
    what was expected), and ``field`` names the request field at fault: ``"file"``, ``"subject_id_column"``,
    ``"label_column"`` or ``"delimiter"``."""

    def __init__(self, message: str, *, field: str = "file") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class IngestLimits:
    """How wide a table, how long a value and how large a Parquet file unpacked an upload may be; each is a setting.

    Checked before the file is parsed where the file says it (a CSV header line, a Parquet footer), so that a file of
    a few MB cannot make Arrow build a million column builders (10^6 columns took 10 GB) or unpack gigabytes.
    """

    max_columns: int = 10_000  # DATASET_MAX_COLUMNS
    max_cell_bytes: int = 1 << 20  # DATASET_MAX_CELL_BYTES (a CSV row is also bounded by Arrow's 8 MiB block)
    max_table_bytes: int = 1 << 30  # DATASET_MAX_BYTES: what a Parquet file may unpack to, as a CSV upload may weigh
    # DATASET_STREAM_ABOVE_BYTES: a larger file is profiled batch by batch in bounded memory (ingest.streaming)
    stream_above_bytes: int = 64 << 20

    SETTINGS = {
        "max_columns": "DATASET_MAX_COLUMNS",
        "max_cell_bytes": "DATASET_MAX_CELL_BYTES",
        "max_table_bytes": "DATASET_MAX_BYTES",
        "stream_above_bytes": "DATASET_STREAM_ABOVE_BYTES",
    }

    @classmethod
    def from_settings(cls, source: Any) -> IngestLimits:
        """The limits ``source`` names (any object with the :attr:`SETTINGS` attributes, such as Django's settings);
        one it lacks keeps its default."""
        defaults = cls()
        return cls(**{field: getattr(source, name, getattr(defaults, field)) for field, name in cls.SETTINGS.items()})

    @classmethod
    def configured(cls) -> IngestLimits:
        """The limits of the settings installed with :func:`use_settings`, else the defaults (uploads, audits and
        monitoring batches all read files through here, each with the operator's limits)."""
        return cls() if _settings_source is None else cls.from_settings(_settings_source)


# Where IngestLimits.configured() reads the limits: Django's settings, installed by the governance app at start-up,
# so that this module stays framework-free (a script or a child process without Django gets the defaults).
_settings_source: Any = None


def use_settings(source: Any) -> None:
    """Read the limits from ``source`` (Django's settings object, read afresh on every file) from now on."""
    global _settings_source  # noqa: PLW0603 - one process-wide source, installed once at start-up
    _settings_source = source


def _too_many_columns(count: str, limits: IngestLimits) -> IngestError:
    return IngestError(
        f"The file has {count} columns; Assay accepts at most {limits.max_columns:,} (DATASET_MAX_COLUMNS), because "
        "every column costs memory while the file is read. Upload fewer columns (those the audit needs), or ask an "
        "administrator whether DATASET_MAX_COLUMNS can be raised."
    )


def _check_cell_sizes(table: pa.Table, limits: IngestLimits) -> None:
    """Refuse a text or binary value longer than ``limits.max_cell_bytes``, naming its column and row."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for field in table.schema:
        kind = field.type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind)):
            continue
        lengths = pc.binary_length(table.column(field.name))
        longest = pc.max(lengths).as_py()
        if longest is not None and longest > limits.max_cell_bytes:
            row = pc.index(lengths, longest).as_py() + 1
            raise IngestError(
                f"Column {field.name!r} holds a value of {longest:,} bytes (row {row}); Assay accepts values of at "
                f"most {limits.max_cell_bytes:,} bytes (DATASET_MAX_CELL_BYTES)."
            )


def _human_size(size: int) -> str:
    """1048576 -> '1 MiB', 1536 -> '1.5 KiB'."""
    if size < 1024:
        return f"{size} bytes"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f}".removesuffix(".0") + f" {unit}"
