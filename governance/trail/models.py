"""The trail's tables: events (the leaves), stored Merkle nodes, signed checkpoints and signing keys.

All four are append-only. Database triggers (see migrations and ``governance.trail.db``) refuse UPDATE
and DELETE on them, so an ordinary bug or a careless admin cannot rewrite history; an attacker with full
database access can, and that is what checkpoints held outside the server catch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from django.db import models


class Event(models.Model):
    """One leaf of the trail: who did what to which object, when; stored with its exact leaf bytes."""

    seq = models.BigIntegerField(primary_key=True, help_text="Leaf index in the Merkle log, from 0.")
    recorded_at = models.DateTimeField()
    action = models.CharField(max_length=64, db_index=True)
    actor_kind = models.CharField(max_length=8)  # user, token or system
    actor_user_id = models.BigIntegerField(null=True, db_index=True)
    actor_token_id = models.BigIntegerField(null=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True)
    payload = models.JSONField(default=dict)
    leaf = models.BinaryField(help_text="The canonical (RFC 8785) JSON bytes that were hashed, exactly.")
    leaf_hash = models.BinaryField(max_length=32)
    # The previous leaf's hash (empty for the first): unique, so two events can never claim the same parent.
    prev_hash = models.BinaryField(max_length=32, unique=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["object_type", "object_id"]), models.Index(fields=["recorded_at"])]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action}"


class QueuedEvent(models.Model):
    """An event written by its business transaction and waiting for the sequencer (``TRAIL_SEQUENCING=batched``).

    It holds what the caller declared, already validated; it holds no position in the log (no seq, no previous
    hash, no leaf), so nothing written here can choose where in history an event lands or rewrite one that is
    there: the sequencer re-validates each row, chains it at the log's head under the trail's lock, and records the
    seq it got here. Triggers (migration 0014) refuse any other change, and deleting a row not yet sequenced.
    """

    queued_at = models.DateTimeField(help_text="The event's time (its leaf's 'time'), set when it was queued.")
    action = models.CharField(max_length=64)
    actor_kind = models.CharField(max_length=8)
    actor_user_id = models.BigIntegerField(null=True)
    actor_token_id = models.BigIntegerField(null=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=128, blank=True)
    # Text, not JSON: PostgreSQL's jsonb rewrites numbers (1e16 comes back as an integer beyond 2**53), so the
    # sequencer could not re-encode what record_event validated. This is the payload's RFC 8785 text, as its leaf
    # will hold it; the sequencer decodes it and refuses it unless it re-encodes to exactly this text.
    payload = models.TextField(help_text="The payload as RFC 8785 canonical JSON text, as its leaf will hold it.")
    seq = models.BigIntegerField(null=True, unique=True, help_text="The event's seq once sequenced.")
    rejected = models.TextField(blank=True, help_text="Why the sequencer refused the row (never by record_event).")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True, rejected=""), name="trail_queue_pending"),
            models.Index(fields=["queued_at"], name="trail_queue_queued_at"),
        ]

    def __str__(self) -> str:
        return f"queued {self.id} {self.action}" + ("" if self.seq is None else f" -> #{self.seq}")


# The columns a queued event does not know until it is sequenced.
SEQUENCED_FIELDS = ("seq", "leaf", "leaf_hash", "prev_hash")


class PendingEvent(Event):
    """What ``record_event`` returns in batched mode: the event as queued, an ``Event`` whose position is not known yet.

    Its action, actor, object, payload and time are set. ``seq``, ``leaf``, ``leaf_hash`` and ``prev_hash`` are
    deferred: the first read of any of them sequences the event there and then (inside the caller's transaction if
    it is still open, taking the trail's lock as inline appends do), so a caller that needs the seq is always
    correct, and one that does not read it never waits for the lock.
    """

    queued_id: int
    # Set by governance.trail.sequencer at import (it imports this module): sequences the queued row, returns its seq.
    resolver: ClassVar[Callable[[PendingEvent], int] | None] = None

    class Meta:
        proxy = True

    # The seq is the primary key, which Django cannot defer on a proxy model (it looks for a parent link): read it
    # through this property instead, with the same effect as the other deferred fields.
    @property  # type: ignore[override]
    def seq(self) -> int:
        if "seq" not in self.__dict__:
            self.refresh_from_db(fields=["seq"])
        return int(self.__dict__["seq"])

    @seq.setter
    def seq(self, value: int) -> None:
        self.__dict__["seq"] = value

    @property
    def is_sequenced(self) -> bool:
        """Whether the seq (and leaf) are known here yet; reading this never sequences anything."""
        return "seq" in self.__dict__

    def refresh_from_db(
        self, using: str | None = None, fields: Iterable[str] | None = None, from_queryset: Any = None
    ) -> None:
        """Read a deferred field: sequence the event (if it is not yet), then load its sequenced columns."""
        if not self.is_sequenced:
            if PendingEvent.resolver is None:
                raise LookupError("the trail's sequencer is not loaded (governance.trail.sequencer)")
            self.__dict__["seq"] = PendingEvent.resolver(self)
        row = Event.objects.filter(seq=self.__dict__["seq"]).values(*SEQUENCED_FIELDS[1:]).get()
        for name, value in row.items():
            setattr(self, name, value)


class MerkleNode(models.Model):
    """The hash of a perfect, aligned subtree: leaves [index * 2**level, (index + 1) * 2**level).

    Storing every such node (about 2n rows) lets any inclusion or consistency proof be answered with one
    indexed query of O(log n) rows, and lets an append find the log's right edge without re-hashing.
    """

    level = models.SmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="merkle_node_unique_position")]

    def __str__(self) -> str:
        return f"node({self.level}, {self.index})"


class SigningKey(models.Model):
    """A public key that has signed checkpoints; kept forever so that old checkpoints stay verifiable."""

    name = models.CharField(max_length=100)
    key_id = models.CharField(max_length=8, unique=True, help_text="C2SP signed-note key id, hex.")
    public_key = models.BinaryField(max_length=32)
    verifier_key = models.CharField(max_length=300, help_text="The C2SP verifier key text.")
    added_at = models.DateTimeField()

    class Meta:
        ordering = ["added_at"]

    def __str__(self) -> str:
        return self.verifier_key


class Checkpoint(models.Model):
    """A signed statement of the log's size and root at a moment (C2SP tlog-checkpoint signed note)."""

    tree_size = models.BigIntegerField(db_index=True)
    root_hash = models.BinaryField(max_length=32)
    note = models.TextField(help_text="The signed note, exactly as issued.")
    key = models.ForeignKey(SigningKey, on_delete=models.PROTECT, related_name="checkpoints")
    issued_at = models.DateTimeField()
    reason = models.CharField(max_length=32, default="scheduled")

    class Meta:
        ordering = ["id"]
        get_latest_by = "id"

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class Cosignature(models.Model):
    """A witness's cosignature on a checkpoint (C2SP tlog-cosignature): the signature line exactly as returned.

    Not protected by triggers like the tables above, and it need not be: a cosignature verifies on its own against
    the witness's key, so a forged one is refused by any verifier, and a deleted one only makes the checkpoint fail
    a verifier's ``--min-witnesses``.
    """

    checkpoint = models.ForeignKey(Checkpoint, on_delete=models.PROTECT, related_name="cosignatures")
    witness_name = models.CharField(max_length=200)
    key_id = models.CharField(max_length=8, help_text="The witness key's C2SP key id (type 0x04), hex.")
    line = models.TextField(help_text="The note signature line, with its newline.")
    signed_at = models.DateTimeField(help_text="The time in the cosignature (the witness's clock).")
    received_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["checkpoint", "key_id"], name="cosignature_one_per_witness"),
        ]

    def __str__(self) -> str:
        return f"{self.witness_name} on checkpoint {self.checkpoint_id}"
