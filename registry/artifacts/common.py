"""What every part of artifact checking shares: the refusal (:class:`ArtifactError` and its codes), the limits on
what an upload may unpack or build (:class:`ArtifactLimits`, read from the settings installed with
:func:`use_settings`), the description of an accepted artifact, and how a parsing library's error becomes a refusal.

Standard library only: no Django, no heavy library.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

ERROR_CODES = frozenset(
    {
        "corrupt",  # recognised as ONNX or skops, but damaged, truncated or internally inconsistent
        "empty",
        "extension_mismatch",  # a valid artifact of the other accepted format under a misleading name
        "external_data",  # an ONNX model whose weights live in other files
        "not_onnx",  # named .onnx, but the bytes are not an ONNX model
        "not_skops",  # named .skops, but the bytes are not a skops file
        "pickle_refused",
        "too_large",
        "unknown_format",
        "untrusted_types",  # a skops file naming types outside SKOPS_ALLOWED_TYPES
    }
)


_CHUNK = 1 << 20  # hashing and decompression read this much at a time


_REASON_LIMIT = 300  # characters of a library's error message quoted back to the uploader


class ArtifactError(ValueError):
    """Refusal with a message meant for the uploader (what is wrong and what to do).

    ``code`` is a stable machine code from :data:`ERROR_CODES`; ``details`` holds plain,
    JSON-serialisable values such as ``{"untrusted_types": [...]}``.
    """

    code: str
    details: dict[str, Any]

    def __init__(self, code: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        assert code in ERROR_CODES, code
        # args are (code, message) so that task queues which rebuild exceptions as cls(*args) can.
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.code, self.message), {"details": self.details})


@dataclass(frozen=True)
class ArtifactLimits:
    """How much an artifact may make Assay unpack, parse or build before it is refused ("too_large", 413).

    Each bound is a setting (README, "Settings"); the defaults leave room for the largest models seen in practice
    (a 300-tree random forest saved with skops is 100 MB in 1,500 members with a 4.6 MB schema.json) while keeping
    one upload far below a worker's memory. Every bound is checked from the file's own directory or graph before
    anything is unpacked or built, and the archive bounds are enforced again while reading.
    """

    max_unpacked_bytes: int = 1 << 30  # ARTIFACT_MAX_UNPACKED_BYTES: an archive's members, an ONNX graph's tensors
    max_member_bytes: int = 512 << 20  # ARTIFACT_MAX_MEMBER_BYTES: one member, unpacked
    max_members: int = 100_000  # ARTIFACT_MAX_MEMBERS
    # SKOPS_MAX_SCHEMA_BYTES: schema.json is parsed whole, into 3x its size (a real one) to 20x (crafted tiny objects)
    max_schema_bytes: int = 32 << 20
    onnx_max_nodes: int = 100_000  # ONNX_MAX_NODES: nodes of every graph, subgraph and function
    onnx_max_tensor_bytes: int = 256 << 20  # ONNX_MAX_TENSOR_BYTES: one initializer, constant or folded tensor

    SETTINGS = {
        "max_unpacked_bytes": "ARTIFACT_MAX_UNPACKED_BYTES",
        "max_member_bytes": "ARTIFACT_MAX_MEMBER_BYTES",
        "max_members": "ARTIFACT_MAX_MEMBERS",
        "max_schema_bytes": "SKOPS_MAX_SCHEMA_BYTES",
        "onnx_max_nodes": "ONNX_MAX_NODES",
        "onnx_max_tensor_bytes": "ONNX_MAX_TENSOR_BYTES",
    }

    @classmethod
    def from_settings(cls, source: Any) -> ArtifactLimits:
        """The limits ``source`` names (any object with the :attr:`SETTINGS` attributes, such as Django's settings);
        one it lacks keeps its default."""
        defaults = cls()
        return cls(**{field: getattr(source, name, getattr(defaults, field)) for field, name in cls.SETTINGS.items()})

    @classmethod
    def configured(cls) -> ArtifactLimits:
        """The limits of the settings installed with :func:`use_settings`, else the defaults.

        Artifacts are inspected by the web process and loaded again by workers and commands: each gets the
        operator's limits without every caller passing them along.
        """
        return cls() if _settings_source is None else cls.from_settings(_settings_source)


# Where ArtifactLimits.configured() reads the limits: Django's settings, installed by registry.apps at start-up, so
# that this module imports no framework (a script or a child process without Django gets the defaults).
_settings_source: Any = None


def use_settings(source: Any) -> None:
    """Read the limits from ``source`` (Django's settings object, read afresh on every inspection) from now on."""
    global _settings_source  # noqa: PLW0603 - one process-wide source, installed once at start-up
    _settings_source = source


def _limit_refusal(
    name: str, *, what: str, measured: int, field: str, limits: ArtifactLimits, unit: str = "bytes"
) -> ArtifactError:
    """A too_large refusal naming the measure, the limit and the setting that holds it."""
    limit = getattr(limits, field)
    setting = ArtifactLimits.SETTINGS[field]
    return ArtifactError(
        "too_large",
        f"{name} {what} {measured:,} {unit}, above Assay's limit of {limit:,} ({setting}). Assay refuses it before "
        f"unpacking or building anything, so that one upload cannot exhaust the server's memory. Upload a smaller "
        f"model, or ask an administrator whether {setting} can be raised.",
        details={"limit": setting, "max": limit, "measured": measured},
    )


@dataclass(frozen=True)
class InspectedArtifact:
    """What an accepted artifact is: its format, identity (hash, size) and input/output schema."""

    framework: str  # "onnx" or "skops"
    sha256: str  # lowercase hex of the exact bytes
    size: int  # bytes
    input_schema: list[dict[str, Any]]  # [{"name": str, "type": str, "shape": [int | str | None, ...]}]
    output_schema: list[dict[str, Any]]
    details: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Errors from the parsing libraries
# ---------------------------------------------------------------------------------------------
def _reason(exc: BaseException | str) -> str:
    """The first line of an error (or warning) message, short enough to show an uploader."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    if len(text) > _REASON_LIMIT:
        text = text[: _REASON_LIMIT - 1] + "…"
    return text.rstrip(".")


@contextmanager
def _library_errors(code: str, prefix: str, advice: str = "") -> Iterator[None]:
    """Turn any exception from a parsing library into an ArtifactError with the reason in words."""
    try:
        yield
    except (ArtifactError, MemoryError):
        raise
    except Exception as exc:  # the libraries raise anything from DecodeError to RuntimeError
        raise ArtifactError(code, f"{prefix}: {_reason(exc)}.{' ' + advice if advice else ''}") from exc
