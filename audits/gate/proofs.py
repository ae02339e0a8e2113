"""Proofs of gate decisions: the decision's trail event, its inclusion proof, and a checkpoint with cosignatures.

Why: a gate token is signed by Assay's key, so on its own it shows only that the key holder said ``pass``. Every
decision is also a ``gate.decided`` event whose payload holds the token's SHA-256; once a checkpoint covers that
event, this module answers with everything a pipeline (or anyone, offline) needs to check that the decision is in the
trail the witnesses cosigned: ``audits/gate/decision_proof.py`` describes the document and verifies it.

The checkpoint chosen is the one covering the decision with the most witness cosignatures, the newest among equals:
a witness that was down when one checkpoint was issued has usually cosigned a later one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from audits import events
from audits.gate.decision_proof import PROOF_FORMAT
from governance.access.scoping import get_visible_or_404
from governance.trail.checkpoints import CheckpointRefused, checkpoint_if_due, checkpoint_is_due, latest_checkpoint
from governance.trail.log import prove_inclusion, tree_size
from governance.trail.models import Checkpoint, Event
from governance.trail.witnesses import cosigned_note
from registry.access import models_visible_to
from registry.models import ModelVersion

VERSION_TYPE = ModelVersion._meta.label_lower
# How soon to ask again when a checkpoint is due already (being issued, or queued for a worker).
DUE_RETRY_SECONDS = 5


@dataclass(frozen=True)
class NotCovered:
    """No checkpoint covers the decision yet: when one is expected, and how long to wait before asking again."""

    seq: int
    latest_size: int  # events the latest checkpoint covers (0 when none was issued)
    due_at: dt.datetime | None  # when the time rule makes the next checkpoint due (None: due already)
    events_until_due: int  # or after this many more events
    retry_after_seconds: int | None  # None: do not wait, no checkpoint can be issued (``refused`` says why)
    refused: str = ""

    def message(self) -> str:
        if self.refused:
            return (
                f"No checkpoint covers gate decision {self.seq}, and none can be issued: {self.refused}. Waiting will "
                "not help: the trail's operators must find out what changed ('python manage.py verify_trail')."
            )
        if self.due_at is None:
            when = "A checkpoint is due now and is being issued"
        else:
            when = (
                f"The next is due by {self.due_at.isoformat(timespec='seconds')} (TRAIL_CHECKPOINT_EVERY_SECONDS), or "
                f"after {self.events_until_due} more event(s) (TRAIL_CHECKPOINT_EVERY_EVENTS)"
            )
        return (
            f"No checkpoint covers gate decision {self.seq} yet: the latest covers {self.latest_size} event(s). "
            f"{when}; ask again in {self.retry_after_seconds} s, or ask an officer to issue one now "
            "(POST /api/v1/trail/checkpoints/)."
        )

    def details(self) -> dict[str, Any]:
        return {
            "decision": self.seq,
            "covered": False,
            # Checkpoints are issued by rule, so one will cover it without anyone acting, unless the trail no longer
            # verifies (then none is signed until someone repairs it).
            "wait": not self.refused,
            "retry_after_seconds": self.retry_after_seconds,
            "latest_checkpoint_size": self.latest_size,
            "checkpoint_due_at": self.due_at.isoformat(timespec="seconds") if self.due_at else None,
            "events_until_due": self.events_until_due,
        }


def decision_event(user: Any, seq: int, request: Any = None) -> Event:
    """The ``gate.decided`` event ``seq`` if its model is one ``user`` may see, else Http404 (as for a decision that
    does not exist: the caller learns nothing of another team's decisions; the trail records the reach)."""
    event = Event.objects.filter(seq=seq, action=events.GATE_DECIDED.name, object_type=VERSION_TYPE).first()
    version_id = int(event.object_id) if event is not None and event.object_id.isdigit() else 0
    get_visible_or_404(
        ModelVersion.objects.filter(model__in=models_visible_to(user)).only("id"),
        user,
        request if event is not None else None,
        pk=version_id,
    )
    assert event is not None  # version 0 never exists
    return event


def covering_checkpoint(seq: int) -> Checkpoint | None:
    """The checkpoint covering event ``seq`` with the most cosignatures (the newest among equals), or None."""
    return (
        Checkpoint.objects.filter(tree_size__gt=seq)
        .annotate(cosigned=Count("cosignatures"))
        .order_by("-cosigned", "-id")
        .prefetch_related("cosignatures")
        .first()
    )


def decision_proof(event: Event) -> dict[str, Any] | NotCovered:
    """The proof document of ``event`` (format ``assay-gate-proof/1``), or :class:`NotCovered`.

    A checkpoint that is due but not issued yet (the scheduler has not run) is queued first, as an append would: a
    worker issues (and has cosigned) it, so the answer is "not covered" until then; with ``JOBS_IN_PROCESS=1`` it is
    issued here and the proof comes at once. When it is refused because the trail no longer verifies, the answer
    says not to wait.
    """
    checkpoint = covering_checkpoint(event.seq)
    if checkpoint is None and checkpoint_is_due():
        try:
            checkpoint_if_due()
        except CheckpointRefused as refusal:
            latest = latest_checkpoint()
            return NotCovered(event.seq, latest.tree_size if latest else 0, None, 0, None, refused=str(refusal))
        checkpoint = covering_checkpoint(event.seq)
    if checkpoint is None:
        return _not_covered(event.seq)
    size = checkpoint.tree_size
    proof = prove_inclusion(seq=event.seq, size=size)
    return {
        "format": PROOF_FORMAT,
        "decision": event.seq,
        "leaf": bytes(event.leaf).decode("utf-8"),
        "leaf_index": event.seq,
        "tree_size": size,
        "leaf_hash": bytes(event.leaf_hash).hex(),
        "proof": [node.hex() for node in proof],
        "root": bytes(checkpoint.root_hash).hex(),
        "checkpoint": cosigned_note(checkpoint),
        "cosignatures": [
            {"witness": c.witness_name, "key_id": c.key_id, "signed_at": c.signed_at.isoformat()}
            for c in sorted(checkpoint.cosignatures.all(), key=lambda c: c.pk)
        ],
    }


def _not_covered(seq: int) -> NotCovered:
    latest = latest_checkpoint()
    size = tree_size()
    if latest is None or checkpoint_is_due(size=size):
        return NotCovered(seq, latest.tree_size if latest else 0, None, 0, DUE_RETRY_SECONDS)
    due_at = latest.issued_at + dt.timedelta(seconds=settings.TRAIL_CHECKPOINT_EVERY_SECONDS)
    wait = max(1, math.ceil((due_at - timezone.now()).total_seconds()))
    events_left = max(1, settings.TRAIL_CHECKPOINT_EVERY_EVENTS - (size - latest.tree_size))
    return NotCovered(seq, latest.tree_size, due_at, events_left, wait)
