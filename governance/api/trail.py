"""The trail over HTTP: events, checkpoints, inclusion and consistency proofs, published keys."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint, latest_checkpoint
from governance.trail.keys import published_verifier_keys
from governance.trail.leaf import SignedEvent, format_time
from governance.trail.log import TrailError, prove_consistency, prove_inclusion, root_at, tree_size
from governance.trail.models import Checkpoint, Event
from governance.trail.sequencer import queued_status
from governance.trail.witnesses import cosigned_note
from governance.web.api.fields import parse_aware_datetime
from governance.web.api.negotiation import StrictFormatNegotiation


class EventSerializer(serializers.ModelSerializer):
    """An event as its leaf bytes state it (``SignedEvent``): the columns serve filtering only, so an edited column
    is never shown as evidence. ``leaf_verified`` is False when the stored hash is not the leaf's, or the bytes are
    not this event's leaf (``verify_trail`` names what happened)."""

    recorded_at = serializers.SerializerMethodField()
    action = serializers.SerializerMethodField()
    object_type = serializers.SerializerMethodField()
    object_id = serializers.SerializerMethodField()
    payload = serializers.SerializerMethodField()
    leaf = serializers.SerializerMethodField()
    leaf_hash = serializers.SerializerMethodField()
    leaf_verified = serializers.SerializerMethodField()
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = [
            "seq", "recorded_at", "action", "actor", "object_type", "object_id", "payload", "leaf", "leaf_hash",
            "leaf_verified",
        ]  # fmt: skip

    def _signed(self, event: Event) -> SignedEvent:
        cached = getattr(event, "_signed_event", None)
        if cached is None:
            cached = SignedEvent(bytes(event.leaf), bytes(event.leaf_hash), seq=event.seq)
            event._signed_event = cached  # type: ignore[attr-defined]
        return cached

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_recorded_at(self, event: Event) -> str | None:
        moment = self._signed(event).recorded_at
        return format_time(moment) if moment is not None else None

    def get_action(self, event: Event) -> str:
        return self._signed(event).action

    def get_object_type(self, event: Event) -> str:
        return self._signed(event).object_type

    def get_object_id(self, event: Event) -> str:
        return str(self._signed(event).object_id)

    def get_payload(self, event: Event) -> dict[str, Any]:
        return self._signed(event).payload

    def get_leaf(self, event: Event) -> str:
        return bytes(event.leaf).decode("utf-8", errors="replace")

    def get_leaf_hash(self, event: Event) -> str:
        return bytes(event.leaf_hash).hex()

    def get_leaf_verified(self, event: Event) -> bool:
        signed = self._signed(event)
        return signed.hash_ok and signed.readable

    def get_actor(self, event: Event) -> dict[str, Any]:
        signed = self._signed(event)
        return {"kind": signed.actor_kind, "user": signed.actor_user_id, "token": signed.actor_token_id}


class CosignatureSerializer(serializers.Serializer):
    """A witness's cosignature (C2SP tlog-cosignature): who, when by the witness's clock, and the signature line."""

    witness = serializers.CharField(source="witness_name")
    key_id = serializers.CharField()
    signed_at = serializers.DateTimeField()
    line = serializers.CharField()


class CheckpointSerializer(serializers.ModelSerializer):
    root_hash = serializers.SerializerMethodField()
    key_id = serializers.CharField(source="key.key_id")
    cosignatures = CosignatureSerializer(many=True, read_only=True)
    cosigned_note = serializers.SerializerMethodField(help_text="The note with every witness cosignature line.")

    class Meta:
        model = Checkpoint
        fields = [
            "id",
            "tree_size",
            "root_hash",
            "issued_at",
            "reason",
            "key_id",
            "note",
            "cosignatures",
            "cosigned_note",
        ]

    def get_root_hash(self, checkpoint: Checkpoint) -> str:
        return bytes(checkpoint.root_hash).hex()

    def get_cosigned_note(self, checkpoint: Checkpoint) -> str:
        return cosigned_note(checkpoint)


class InclusionProofSerializer(serializers.Serializer):
    """An RFC 9162 inclusion proof; hashes are lowercase hex."""

    leaf_index = serializers.IntegerField()
    tree_size = serializers.IntegerField()
    leaf_hash = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())
    # "root" is the API's name; DRF's metaclass moves it into the fields, so Field.root is untouched.
    root = serializers.CharField()  # type: ignore[assignment]
    checkpoint = serializers.CharField(allow_null=True, help_text="The signed checkpoint of this size, if issued.")


class ConsistencyProofSerializer(serializers.Serializer):
    """An RFC 9162 consistency proof; hashes are lowercase hex."""

    first_size = serializers.IntegerField()
    second_size = serializers.IntegerField()
    first_root = serializers.CharField()
    second_root = serializers.CharField()
    proof = serializers.ListField(child=serializers.CharField())
    first_checkpoint = serializers.CharField(allow_null=True)
    second_checkpoint = serializers.CharField(allow_null=True)


def _int_param(request: Request, name: str, *, required: bool = True, default: int | None = None) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if required:
            raise ValidationError({name: ["This query parameter is required."]})
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError({name: [f"'{raw}' is not an integer."]}) from None
    if value < 0:
        raise ValidationError({name: ["Must be zero or more."]})
    return value


class EventList(generics.ListAPIView):
    """Trail events, oldest first; filter by object_type, object_id, action, actor (user id), since, until."""

    required_scopes = {"GET": "trail:read"}
    serializer_class = EventSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("object_type", str),
            OpenApiParameter("object_id", str),
            OpenApiParameter("action", str),
            OpenApiParameter("actor", int, description="user id"),
            OpenApiParameter("since", str, description="ISO 8601 time"),
            OpenApiParameter("until", str, description="ISO 8601 time"),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        params = self.request.query_params
        queryset = Event.objects.order_by("seq")
        for field in ("object_type", "object_id", "action"):
            if params.get(field):
                queryset = queryset.filter(**{field: params[field]})
        actor = _int_param(self.request, "actor", required=False)
        if actor is not None:
            queryset = queryset.filter(actor_user_id=actor)
        for name, lookup in (("since", "recorded_at__gte"), ("until", "recorded_at__lt")):
            if params.get(name):
                queryset = queryset.filter(**{lookup: parse_aware_datetime(params[name], field=name)})
        return queryset


class EventDetail(APIView):
    required_scopes = {"GET": "trail:read"}

    @extend_schema(responses=EventSerializer)
    def get(self, request: Request, seq: int) -> Response:
        event = Event.objects.filter(seq=seq).first()
        if event is None:
            raise NotFound(f"There is no event {seq}.")
        return Response(EventSerializer(event).data)


class CheckpointList(generics.ListAPIView):
    """Every signed checkpoint, newest first; POST issues one now (officers)."""

    required_scopes = {"GET": "proofs:read", "POST": "trail:checkpoint"}
    serializer_class = CheckpointSerializer
    queryset = Checkpoint.objects.select_related("key").prefetch_related("cosignatures").order_by("-id")

    @extend_schema(request=None, responses={201: CheckpointSerializer})
    def post(self, request: Request) -> Response:
        try:
            checkpoint = issue_checkpoint(reason="on-demand")
        except CheckpointRefused as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        assert checkpoint is not None
        return Response(CheckpointSerializer(checkpoint).data, status=status.HTTP_201_CREATED)


class SignedNoteRenderer(BaseRenderer):
    """``?format=note`` (or ``Accept: text/plain``): the checkpoint's signed note alone, with the witnesses'
    cosignature lines (C2SP), to save and verify."""

    media_type = "text/plain"
    format = "note"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, dict) and "note" in data:
            return str(data.get("cosigned_note") or data["note"]).encode()
        error = data.get("error", {}) if isinstance(data, dict) else {}
        return f"error: {error.get('message', data)}\n".encode()


class LatestCheckpoint(APIView):
    """The newest signed checkpoint; ``?format=note`` answers the signed note alone as text/plain."""

    required_scopes = {"GET": "proofs:read"}
    renderer_classes = [JSONRenderer, SignedNoteRenderer]
    content_negotiation_class = StrictFormatNegotiation

    @extend_schema(responses=CheckpointSerializer)
    def get(self, request: Request) -> Any:
        checkpoint = latest_checkpoint()
        if checkpoint is None:
            raise NotFound("No checkpoint has been issued yet.")
        return Response(CheckpointSerializer(checkpoint).data)


def _note_for(size: int) -> str | None:
    checkpoint = Checkpoint.objects.filter(tree_size=size).order_by("-id").first()
    return checkpoint.note if checkpoint else None


def _default_size() -> int:
    checkpoint = latest_checkpoint()
    if checkpoint is None:
        raise ValidationError({"tree_size": ["No checkpoint exists yet; give tree_size explicitly."]})
    return checkpoint.tree_size


class InclusionProof(APIView):
    """Proof that event ``seq`` is in the tree of ``tree_size`` leaves (default: the latest checkpoint's)."""

    required_scopes = {"GET": "proofs:read"}

    @extend_schema(
        parameters=[
            OpenApiParameter("seq", int, description="required unless `queued` is given"),
            OpenApiParameter("tree_size", int),
            OpenApiParameter(
                "queued",
                int,
                description="instead of `seq`: the queue id of an event queued in batched sequencing; answers 202 "
                '`{"state": "queued"}` until it is sequenced, then its proof with `"state": "sequenced"`',
            ),
        ],
        responses=InclusionProofSerializer,
    )
    def get(self, request: Request) -> Response:
        queued = _int_param(request, "queued", required=False)
        if queued is not None:
            return self._for_queued(request, queued)
        seq = _int_param(request, "seq")
        size = _int_param(request, "tree_size", required=False)
        size = _default_size() if size is None else size
        assert seq is not None
        return Response(self._proof(seq, size))

    def _for_queued(self, request: Request, queue_id: int) -> Response:
        """An event queued in batched mode: not provable until the sequencer gives it a seq."""
        found = queued_status(queue_id)
        if found is None:
            raise NotFound(f"There is no queued event {queue_id}.")
        if found["state"] == "queued":
            return Response({"state": "queued", "queued": queue_id}, status=status.HTTP_202_ACCEPTED)
        if found["state"] == "refused":
            raise ValidationError({"queued": [f"Queued event {queue_id} was refused by the sequencer."]})
        seq = found["seq"]
        size = _int_param(request, "tree_size", required=False)
        if size is None:  # the latest checkpoint's tree if it covers the event yet, else the trail as it is now
            latest = latest_checkpoint()
            size = latest.tree_size if latest is not None and latest.tree_size > seq else tree_size()
        return Response({"state": "sequenced", "queued": queue_id, **self._proof(seq, size)})

    @staticmethod
    def _proof(seq: int, size: int) -> dict[str, Any]:
        try:
            proof = prove_inclusion(seq=seq, size=size)
        except TrailError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        leaf_hash = bytes(Event.objects.values_list("leaf_hash", flat=True).get(seq=seq))
        return {
            "leaf_index": seq,
            "tree_size": size,
            "leaf_hash": leaf_hash.hex(),
            "proof": [node.hex() for node in proof],
            "root": root_at(size).hex(),
            "checkpoint": _note_for(size),
        }


class ConsistencyProof(APIView):
    """Proof that the tree of ``from`` leaves is a prefix of the tree of ``to`` leaves (default: latest)."""

    required_scopes = {"GET": "proofs:read"}

    @extend_schema(
        parameters=[OpenApiParameter("from", int, required=True), OpenApiParameter("to", int)],
        responses=ConsistencyProofSerializer,
    )
    def get(self, request: Request) -> Response:
        first = _int_param(request, "from")
        second = _int_param(request, "to", required=False)
        second = _default_size() if second is None else second
        assert first is not None
        try:
            proof = prove_consistency(first=first, second=second)
        except TrailError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        return Response(
            {
                "first_size": first,
                "second_size": second,
                "first_root": root_at(first).hex(),
                "second_root": root_at(second).hex(),
                "proof": [node.hex() for node in proof],
                "first_checkpoint": _note_for(first),
                "second_checkpoint": _note_for(second),
            }
        )


def well_known_keys(request: HttpRequest) -> HttpResponse:
    """Public: every checkpoint verifier key ever used, one per line (C2SP verifier-key text)."""
    keys = published_verifier_keys()
    return HttpResponse("".join(f"{key}\n" for key in keys), content_type="text/plain; charset=utf-8")
