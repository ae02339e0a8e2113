"""Portal pages of the trail: browse and filter events, an event's inclusion proof, checkpoints, verification.

Proofs come from the same functions the API serves (``governance.trail.log``) and are checked here with the
verifier that regulators run (``governance.trail.verifier``), so the page says whether the proof holds, not only
what it is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.contrib import messages
from django.core.cache import cache
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from governance.access.models import User
from governance.portal.trail_names import person_name, readable
from governance.trail import verifier
from governance.trail.checkpoints import CheckpointRefused, issue_checkpoint, latest_checkpoint
from governance.trail.events import all_types
from governance.trail.leaf import SignedEvent
from governance.trail.log import TrailError, prove_inclusion, root_at
from governance.trail.models import Checkpoint, Event
from governance.trail.verify import verify_trail
from governance.web.portal.access import may, portal_view, set_choices
from governance.web.portal.pagination import paginate
from registry.models import RegisteredModel

VERIFICATION_CACHE_KEY = "portal:last-trail-verification"


def last_verification() -> dict[str, Any] | None:
    """The outcome of the last verification run from the portal (kept in the cache, so per cache, not forever)."""
    return cache.get(VERIFICATION_CACHE_KEY)


class EventFilter(forms.Form):
    action = forms.ChoiceField(label="Event type", required=False)
    model = forms.SlugField(label="Model", required=False, max_length=64)
    object_type = forms.CharField(label="Object type", required=False, max_length=64)
    actor = forms.ChoiceField(label="Person", required=False)
    since = forms.DateField(label="Since (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="Until (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = User.objects.order_by("first_name", "last_name", "username").only(
            "first_name", "last_name", "username"
        )
        set_choices(self, "actor", [("", "anyone"), *((u.username, person_name(u)) for u in people)])
        set_choices(self, "action", [("", "any"), *((t.name, t.name) for t in all_types())])

    def clean_actor(self) -> User | None:
        """The person chosen by username (their name is what the list shows); None for anyone."""
        username = self.cleaned_data.get("actor")
        return User.objects.filter(username=username).first() if username else None


def _day(value: dt.date) -> dt.datetime:
    return dt.datetime.combine(value, dt.time.min, tzinfo=dt.UTC)


@portal_view(GET="trail:read")
def events(request: HttpRequest) -> HttpResponse:
    """Trail events, newest first, filtered by event type, model, object type, person and dates; actors, tokens and
    objects shown by name, with links (resolved now, for display: the leaves keep their ids)."""
    form = EventFilter(request.GET or None)
    found = Event.objects.order_by("-seq")
    status = 200
    if request.GET and not form.is_valid():
        status = 400
        found = found.none()
    elif form.is_bound:
        data = form.cleaned_data
        for field in ("action", "object_type"):
            if data[field]:
                found = found.filter(**{field: data[field]})
        if data["model"]:
            found = found.filter(_about_model(data["model"]))
        if data["actor"] is not None:
            found = found.filter(actor_user_id=data["actor"].pk)
        if data["since"]:
            found = found.filter(recorded_at__gte=_day(data["since"]))
        if data["until"]:
            found = found.filter(recorded_at__lt=_day(data["until"]) + dt.timedelta(days=1))
    page = paginate(request, found.only("seq", "leaf", "leaf_hash"))
    # What each row shows is read from its leaf bytes (what the log commits to), never from editable columns.
    signed = [SignedEvent(bytes(e.leaf), bytes(e.leaf_hash), seq=e.seq) for e in page]
    context = {"form": form, "page": page, "rows": readable(signed)}
    return render(request, "trail/events.html", context, status=status)


def _about_model(name: str) -> Q:
    """Events about a model: the model itself, or any event whose payload names it (versions, audits, findings,
    batches, deployments say ``model``)."""
    model = RegisteredModel.objects.filter(name=name).only("pk").first()
    about = Q(payload__model=name)
    if model is not None:
        about |= Q(object_type="registry.registeredmodel", object_id=str(model.pk))
    return about


@portal_view(GET="trail:read")
def event_detail(request: HttpRequest, seq: int) -> HttpResponse:
    """One event: its leaf bytes and hash, and its inclusion proof in the latest checkpoint, checked here."""
    event = Event.objects.filter(seq=seq).first()
    if event is None:
        raise Http404
    checkpoint = latest_checkpoint()
    proof: dict[str, Any] | None = None
    if checkpoint is not None and seq < checkpoint.tree_size:
        path = prove_inclusion(seq=seq, size=checkpoint.tree_size)
        root = root_at(checkpoint.tree_size)
        try:
            verifier.verify_inclusion(
                leaf_hash=bytes(event.leaf_hash), index=seq, tree_size=checkpoint.tree_size, proof=path, root=root
            )
            holds = bytes(checkpoint.root_hash) == root
        except verifier.VerificationError:
            holds = False
        proof = {"path": [node.hex() for node in path], "root": root.hex(), "holds": holds, "checkpoint": checkpoint}
    signed = SignedEvent(bytes(event.leaf), bytes(event.leaf_hash), seq=event.seq)
    return render(
        request,
        "trail/event_detail.html",
        {
            "event": signed,
            "names": readable([signed])[0],
            "leaf": bytes(event.leaf).decode("utf-8", errors="replace"),
            "leaf_hash": bytes(event.leaf_hash).hex(),
            "proof": proof,
        },
    )


@portal_view(GET="proofs:read", POST="trail:checkpoint")
def checkpoints(request: HttpRequest) -> HttpResponse:
    """Signed checkpoints, newest first; POST issues one now (officers, administrators)."""
    if request.method == "POST":
        try:
            checkpoint = issue_checkpoint(reason="on-demand")
        except (CheckpointRefused, TrailError) as exc:
            messages.error(request, f"No checkpoint was issued: {exc}")
        else:
            assert checkpoint is not None
            messages.success(request, f"Checkpoint issued: {checkpoint.tree_size} events.")
        return redirect("portal:checkpoints")
    page = paginate(request, Checkpoint.objects.select_related("key").order_by("-id"), per_page=10)
    return render(
        request,
        "trail/checkpoints.html",
        {
            "page": page,
            "verification": last_verification(),
            "can_issue": may(request, "trail:checkpoint"),
        },
    )


@portal_view(POST="trail:checkpoint")
def verify(request: HttpRequest) -> HttpResponse:
    """Verify the whole trail now (what ``manage.py verify_trail`` does) and remember the outcome."""
    started = timezone.now()
    report = verify_trail()
    outcome = {
        "at": started,
        "ok": report.ok,
        "events": report.events,
        "checkpoints": report.checkpoints,
        "root": report.root.hex(),
        "first_bad_seq": report.first_bad_seq,
        "problems": report.problems[:20],
        "seconds": (timezone.now() - started).total_seconds(),
    }
    cache.set(VERIFICATION_CACHE_KEY, outcome, timeout=None)
    if report.ok:
        messages.success(request, f"The trail verifies: {report.events} events, {report.checkpoints} checkpoints.")
    else:
        messages.error(request, f"Verification FAILED: {report.problems[0] if report.problems else 'see below'}")
    return redirect("portal:checkpoints")
