"""Asking independent witnesses to cosign each checkpoint, and serving the checkpoint with their cosignatures.

Why: a checkpoint signed only by Assay's key proves nothing to someone who fears Assay itself showed them a different
history than it showed others. A witness (``governance/trail/witness.py``, run by a regulator or an internal audit
function) cosigns a checkpoint only if it extends the last one the witness saw; a verifier that requires its
cosignature therefore rejects a forked or rolled-back trail. See docs/witnesses.md.

The client side of C2SP tlog-witness: for each witness in ``TRAIL_WITNESSES`` we send the checkpoint with a
consistency proof from the size that witness last cosigned (from our own records; when they are stale, the witness
answers 409 with its size and we try once more from that size). Cosignatures are checked against the witness's key
before they are stored. A witness that is down, slow or refuses never stops a checkpoint from being issued: the
checkpoint simply carries fewer cosignatures, and verifiers that require them say so.
"""

from __future__ import annotations

import base64
import datetime as dt
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from governance.trail.log import prove_consistency
from governance.trail.models import Checkpoint, Cosignature
from governance.trail.verifier import (
    VerificationError,
    WitnessKey,
    parse_witness_key,
    verify_cosignatures,
)

logger = logging.getLogger(__name__)

SIZE_CONTENT_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class ConfiguredWitness:
    """A witness from ``TRAIL_WITNESSES``: where to submit, and the key its cosignatures must verify against."""

    url: str
    key: WitnessKey


class WitnessRefused(Exception):
    """A witness answered add-checkpoint with an error status."""

    def __init__(self, status: int, message: str, *, size: int | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.size = size


def parse_witness_setting(items: list[str]) -> list[ConfiguredWitness]:
    """``["<URL> <witness key>", ...]`` as :class:`ConfiguredWitness`; :class:`ImproperlyConfigured` if malformed."""
    witnesses = []
    for item in items:
        url, _, key_text = item.strip().partition(" ")
        if not url.startswith(("http://", "https://")) or not key_text.strip():
            raise ImproperlyConfigured(f"TRAIL_WITNESSES item {item!r} is not '<http(s) URL> <witness key>'")
        try:
            key = parse_witness_key(key_text.strip())
        except VerificationError as error:
            raise ImproperlyConfigured(f"TRAIL_WITNESSES: {error}") from None
        witnesses.append(ConfiguredWitness(url=url.rstrip("/"), key=key))
    return witnesses


def configured_witnesses() -> list[ConfiguredWitness]:
    """The witnesses of ``TRAIL_WITNESSES``."""
    return parse_witness_setting(list(settings.TRAIL_WITNESSES))


def request_body(old_size: int, proof: list[bytes], note: str) -> bytes:
    """The add-checkpoint request body: ``old <size>``, the proof lines in base64, an empty line, the checkpoint."""
    lines = [f"old {old_size}", *(_b64(node) for node in proof)]
    return ("\n".join(lines) + "\n\n" + note).encode("utf-8")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def add_checkpoint(url: str, body: bytes, *, timeout: float) -> str:
    """POST ``body`` to ``<url>/add-checkpoint``; the response's signature lines, or :class:`WitnessRefused`."""
    request = urllib.request.Request(  # noqa: S310 - the URL is configured by the operator, http(s) checked above
        url + "/add-checkpoint", data=body, method="POST", headers={"Content-Type": "text/plain; charset=utf-8"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - see above
            return response.read(64 * 1024).decode("utf-8")
    except urllib.error.HTTPError as error:
        text = error.read(4096).decode("utf-8", "replace")
        size = None
        if error.code == 409 and error.headers.get("Content-Type", "").startswith(SIZE_CONTENT_TYPE):
            stripped = text.strip()
            size = int(stripped) if stripped.isascii() and stripped.isdigit() else None
        raise WitnessRefused(error.code, text.strip()[:300], size=size) from None


def last_cosigned_size(witness: WitnessKey) -> int:
    """The largest checkpoint size this witness is known to have cosigned (0 if none)."""
    found = Cosignature.objects.filter(key_id=witness.key_id.hex(), witness_name=witness.name).aggregate(
        size=Max("checkpoint__tree_size")
    )
    return int(found["size"] or 0)


def request_cosignature(checkpoint: Checkpoint, witness: ConfiguredWitness) -> Cosignature | None:
    """Ask one witness to cosign ``checkpoint``; store and return its cosignature (None if it is already ahead)."""
    timeout = float(settings.TRAIL_WITNESS_TIMEOUT_SECONDS)
    old = last_cosigned_size(witness.key)
    for attempt in range(2):
        if old > checkpoint.tree_size:
            logger.info("witness %s has cosigned size %s, above %s", witness.key.name, old, checkpoint.tree_size)
            return None
        proof = prove_consistency(first=old, second=checkpoint.tree_size) if old else []
        try:
            lines = add_checkpoint(witness.url, request_body(old, proof, checkpoint.note), timeout=timeout)
            break
        except WitnessRefused as refusal:
            if refusal.status == 409 and refusal.size is not None and attempt == 0:
                old = refusal.size  # our record was stale: the witness told us its size
                continue
            raise
    else:  # pragma: no cover - the loop either breaks or raises
        return None
    # The first line that is a valid cosignature by this witness's key; lines of other keys are ignored (C2SP).
    found = [
        (f"{text}\n", cosignatures[0])
        for text in lines.splitlines()
        if text and (cosignatures := verify_cosignatures(checkpoint.note + text + "\n", witnesses=[witness.key]))
    ]
    if not found:
        raise VerificationError(f"the answer of {witness.key.describe()} holds no cosignature by its key")
    line, cosignature = found[0]
    signed_at = dt.datetime.fromtimestamp(cosignature.timestamp, dt.UTC)
    try:
        with transaction.atomic():
            return Cosignature.objects.create(
                checkpoint=checkpoint,
                witness_name=witness.key.name,
                key_id=witness.key.key_id.hex(),
                line=line,
                signed_at=signed_at,
                received_at=timezone.now(),
            )
    except IntegrityError:  # cosigned twice (a retry): keep the first
        return None


def collect_cosignatures(checkpoint: Checkpoint) -> list[Cosignature]:
    """Ask every configured witness to cosign ``checkpoint``; the cosignatures gathered (failures are logged)."""
    gathered = []
    for witness in configured_witnesses():
        try:
            cosignature = request_cosignature(checkpoint, witness)
        except (OSError, WitnessRefused, VerificationError, ValueError) as error:
            logger.warning(
                "witness %s did not cosign checkpoint %s (size %s): %s",
                witness.key.describe(),
                checkpoint.pk,
                checkpoint.tree_size,
                error,
            )
            continue
        if cosignature is not None:
            gathered.append(cosignature)
    return gathered


def cosigned_note(checkpoint: Checkpoint) -> str:
    """The checkpoint's signed note with every stored cosignature line appended (still a valid signed note)."""
    cosignatures = sorted(checkpoint.cosignatures.all(), key=lambda cosignature: cosignature.pk)  # prefetched or not
    return checkpoint.note + "".join(cosignature.line for cosignature in cosignatures)
