"""Portal pages of data governance: datasets and versions with their quality profile and consent coverage, and
data subjects (consent lookup, history, consent events, access and erasure requests).

The external id of a data subject is typed into a POST form, turned into its pseudonym on the server by the same
function the API uses (``pseudonym_of``), and never stored, logged, echoed back or put in a URL: only the
pseudonym travels on. Everything else goes through ``governance.data.access`` and ``governance.data.actions``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.safestring import mark_safe

from governance.access.actions import ActionError
from governance.data import actions
from governance.data.access import access_dataset, access_dataset_version, access_subject, datasets_visible_to
from governance.data.consent import CoverageTooSmall, coverage_for, subject_states
from governance.data.lineage import graph_as_json, traverse
from governance.data.models import (
    ConsentEvent,
    ConsentKind,
    DatasetUpload,
    Purpose,
    Subject,
    SubjectRequest,
    UploadStatus,
)
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view, refusal, set_choices
from governance.web.portal.pagination import paginate
from governance.web.portal.svg import lineage_svg

# --- datasets ----------------------------------------------------------------------------------------------------


@portal_view(GET="datasets:read")
def dataset_list(request: HttpRequest) -> HttpResponse:
    """Datasets the user may see (their teams', or all for organisation-wide roles)."""
    datasets = datasets_visible_to(request.user)
    if request.GET.get("team"):
        datasets = datasets.filter(team__slug=request.GET["team"])
    page = paginate(request, datasets.order_by("name"))
    context = {"page": page, "team": request.GET.get("team", ""), "can_register": may(request, "datasets:write")}
    return render(request, "data/dataset_list.html", context)


@portal_view(GET="datasets:read")
def dataset_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A dataset and its versions."""
    dataset = access_dataset(request.user, name, request)
    uploads = list(
        DatasetUpload.objects.filter(dataset=dataset).select_related("version").order_by("-id")[:UPLOADS_SHOWN]
    )
    live = any(upload.status in (UploadStatus.QUEUED, UploadStatus.RUNNING) for upload in uploads)
    panel = {"dataset": dataset, "uploads": uploads, "uploads_live": live}
    if request.GET.get("part") == "uploads":  # the uploads' panel, polled while one is being profiled
        return render(request, "data/_uploads.html", panel)
    page = paginate(request, dataset.versions.order_by("-number"))
    context = {**panel, "page": page, "can_register": may(request, "datasets:write")}
    return render(request, "data/dataset_detail.html", context)


UPLOADS_SHOWN = 10  # the newest large uploads on a dataset's page


class CoverageForm(forms.Form):
    purpose = forms.ChoiceField(label="Purpose")
    at = forms.DateField(
        label="On (UTC date, end of day)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "purpose", list(Purpose.objects.order_by("code").values_list("code", "code")))

    def clean_at(self) -> Any:
        value = self.cleaned_data.get("at")
        if value is not None and not 1900 <= value.year <= 9998:
            raise forms.ValidationError("Choose a date between the years 1900 and 9998.")
        return value


@portal_view(GET="datasets:read")
def dataset_version(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """A dataset version: facts, schema, quality profile and findings, lineage, consent coverage (counts only)."""
    version = access_dataset_version(request.user, name, number, request)
    form = CoverageForm(request.GET if "purpose" in request.GET else None)
    coverage, coverage_error, status = None, "", 200
    if form.is_bound:
        if form.is_valid() and not version.subject_id_column:
            coverage_error = "This version has no subject-id column, so its subjects are not known."
        elif form.is_valid():
            day = form.cleaned_data["at"]
            at = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC) if day else timezone.now()
            purpose = Purpose.objects.get(code=form.cleaned_data["purpose"])
            try:
                coverage = coverage_for(version, purpose, at, consent_keeper=may(request, "consent:read"))
            except CoverageTooSmall as exc:
                coverage_error = str(exc)
        else:
            status = 400
    upstream = graph_as_json(traverse(version, direction="upstream"), user=request.user)
    downstream = graph_as_json(traverse(version, direction="downstream"), user=request.user)
    return render(
        request,
        "data/dataset_version.html",
        {
            "version": version,
            "dataset": version.dataset,
            "findings": version.quality_findings.all(),
            "profile": version.profile,
            "missing": sorted(
                ((column, entry) for column, entry in version.profile.get("missing", {}).items()),
                key=lambda item: -item[1].get("fraction", 0),
            ),
            "upstream": mark_safe(lineage_svg(upstream)) if upstream["runs"] else None,  # noqa: S308 - escaped SVG
            "downstream": mark_safe(lineage_svg(downstream)) if downstream["runs"] else None,  # noqa: S308
            "form": form,
            "coverage": coverage,
            "coverage_error": coverage_error,
            "can_register": may(request, "datasets:write"),
        },
        status=status,
    )


# --- subjects ----------------------------------------------------------------------------------------------------


class LookupForm(forms.Form):
    external_id = forms.CharField(label="External id of the data subject", max_length=500, strip=False)


@portal_view(GET="consent:read", POST="consent:read")
def subject_lookup(request: HttpRequest) -> HttpResponse:
    """Find a subject by the id the organisation knows them by; only its pseudonym leaves this request."""
    form = LookupForm(request.POST or None)
    context: dict[str, Any] = {"form": LookupForm()}  # never render the typed id back into the page
    if request.method == "POST":
        if not form.is_valid():
            context["error"] = "Type the external id (1 to 500 characters)."
            return render(request, "data/subject_lookup.html", context, status=400)
        try:
            pseudonym = actions.pseudonym_of(form.cleaned_data["external_id"])
        except ActionError as exc:
            context["error"], status = refusal(request, exc)
            return render(request, "data/subject_lookup.html", context, status=status)
        if Subject.objects.filter(pseudonym=pseudonym).exists():
            return redirect("portal:subject-detail", pseudonym=pseudonym)
        context["unknown"] = pseudonym
    return render(request, "data/subject_lookup.html", context)


class ConsentEventForm(forms.Form):
    purpose = forms.ChoiceField(label="Purpose")
    kind = forms.ChoiceField(label="Event", choices=ConsentKind.choices)
    occurred_at = forms.DateTimeField(
        label="When (UTC)",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    source = forms.CharField(label="Source", required=False, max_length=200)
    notice_version = forms.CharField(label="Notice version", required=False, max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "purpose", list(Purpose.objects.order_by("code").values_list("code", "code")))

    def clean_occurred_at(self) -> dt.datetime:
        value: dt.datetime = self.cleaned_data["occurred_at"]
        value = value.replace(tzinfo=dt.UTC)  # the field says UTC; the browser sends a time without a zone
        if not 1900 <= value.year <= 9998:
            raise forms.ValidationError("Choose a time between the years 1900 and 9998.")
        if value > timezone.now() + dt.timedelta(minutes=5):
            raise forms.ValidationError("A consent event cannot be in the future.")
        return value


def _subject_context(request: HttpRequest, subject: Subject, **extra: Any) -> dict[str, Any]:
    now = timezone.now()
    events = ConsentEvent.objects.filter(subject=subject).select_related("purpose").order_by("-occurred_at", "-id")
    return {
        "subject": subject,
        "states": subject_states(subject, now),
        "events": paginate(request, events, per_page=20),
        "impact": actions.impact_of(subject.pseudonym),
        "records": subject.personal_records.count(),
        "requests": SubjectRequest.objects.filter(subject=subject).select_related("handled_by").order_by("-id"),
        "can_write": may(request, "consent:write"),
        "consent_form": extra.pop("consent_form", None)
        or ConsentEventForm(initial={"occurred_at": now.strftime("%Y-%m-%dT%H:%M"), "kind": ConsentKind.WITHDRAWN}),
        **extra,
    }


@portal_view(GET="consent:read", POST="consent:write")
def subject_detail(request: HttpRequest, pseudonym: str) -> HttpResponse:
    """A subject: consent state per purpose, history, what holds their data; POST records a consent event."""
    subject = access_subject(request.user, pseudonym)
    if request.method == "POST":
        form = ConsentEventForm(request.POST)
        if not form.is_valid():
            context = _subject_context(request, subject, consent_form=form, error="Please correct the problems below.")
            return render(request, "data/subject_detail.html", context, status=400)
        data = form.cleaned_data
        purpose = Purpose.objects.get(code=data.pop("purpose"))
        try:
            actions.do_record_consent(
                user=portal_user(request),
                actor=Actor.from_request(request),
                purpose=purpose,
                subject_pseudonym=subject.pseudonym,
                **data,
            )
        except ActionError as exc:
            message, status = refusal(request, exc)
            context = _subject_context(request, subject, consent_form=form, error=message)
            return render(request, "data/subject_detail.html", context, status=status)
        messages.success(request, f"Recorded: {data['kind']} for '{purpose.code}'.")
        return redirect("portal:subject-detail", pseudonym=subject.pseudonym)
    return render(request, "data/subject_detail.html", _subject_context(request, subject))


class ConfirmForm(forms.Form):
    confirm = forms.CharField(label="Type the first 8 characters of the pseudonym to confirm", max_length=64)


@portal_view(GET="consent:write", POST="consent:write")
def subject_access(request: HttpRequest, pseudonym: str) -> HttpResponse:
    """An access request (GDPR Art. 15): confirm, then what Assay records about the subject and the Art. 15
    information (or the gaps the controller must fill), as a JSON download."""
    subject = access_subject(request.user, pseudonym)
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if not form.is_valid() or form.cleaned_data["confirm"].strip().lower() != subject.pseudonym[:8]:
            context = {
                "subject": subject,
                "form": form,
                "error": "The confirmation does not match; nothing was exported.",
            }
            return render(request, "data/subject_access.html", context, status=400)
        report = actions.do_export_subject(
            subject=subject, user=portal_user(request), actor=Actor.from_request(request)
        )
        response = HttpResponse(json.dumps(report, indent=2, ensure_ascii=False), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="subject-{subject.pseudonym[:12]}-access.json"'
        return response
    return render(request, "data/subject_access.html", {"subject": subject, "form": ConfirmForm()})


@portal_view(GET="consent:write", POST="consent:write")
def subject_erase(request: HttpRequest, pseudonym: str) -> HttpResponse:
    """An erasure request (GDPR Art. 17): see what it does and what remains, confirm, then the subject's key is
    destroyed."""
    subject = access_subject(request.user, pseudonym)
    context: dict[str, Any] = {
        "subject": subject,
        "impact": actions.impact_of(subject.pseudonym),
        "form": ConfirmForm(),
    }
    if request.method == "POST":
        form = ConfirmForm(request.POST)
        if not form.is_valid() or form.cleaned_data["confirm"].strip().lower() != subject.pseudonym[:8]:
            error = "The confirmation does not match; nothing was erased."
            context.update(form=form, error=error, erasure=actions.erasure_report(subject))
            return render(request, "data/subject_erase.html", context, status=400)
        subject, erased_now = actions.do_erase_subject(
            subject=subject, user=portal_user(request), actor=Actor.from_request(request)
        )
        statement = actions.erasure_report(subject)["erasure"]["summary"]
        messages.success(
            request,
            statement if erased_now else "This subject's key was already destroyed; nothing changed. " + statement,
        )
        return redirect("portal:subject-detail", pseudonym=subject.pseudonym)
    context["erasure"] = actions.erasure_report(subject)  # reads the files holding the subject: only when shown
    return render(request, "data/subject_erase.html", context)
