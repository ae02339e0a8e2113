"""Portal pages of the two registers: a model's serious incidents (Art. 73) and the organisation's ISO/IEC 42001
statement of applicability. Parse, check access (the registry's chokepoint; the statement is organisation-wide),
act through the same actions as the API, respond."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from governance.access.actions import ActionError
from governance.trail.log import Actor
from governance.trail.models import Event
from governance.web.portal.access import may, portal_user, portal_view
from obligations import soa
from obligations.actions import DECIDE_SCOPE
from obligations.incidents import clock_citation, do_record_incident, do_record_incident_step, do_report_incident
from obligations.models import Incident
from obligations.portal.forms import IncidentForm, SoaEntryForm, StepForm
from obligations.status import event_ref
from registry.access import access_model, access_version


def _form_error(form: Any, what: str) -> str:
    return f"{what}: " + "; ".join(
        f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()
    )


def _time_left(deadline: dt.datetime, now: dt.datetime) -> str:
    """The reporting clock in words: "3 days 4 h left" or "overdue by 2 h" (whole hours, rounded down)."""
    seconds = int((deadline - now).total_seconds())
    days, rest = divmod(abs(seconds), 86400)
    hours = rest // 3600
    span = f"{days} day{'s' if days != 1 else ''} {hours} h" if days else f"{hours} h"
    return f"{span} left" if seconds >= 0 else f"overdue by {span}"


def _incident_row(incident: Incident, now: dt.datetime) -> dict[str, Any]:
    steps = Event.objects.filter(object_type=incident._meta.label_lower, object_id=str(incident.pk)).order_by("seq")
    return {
        "incident": incident,
        "clock": clock_citation(incident.kind),
        "time_left": None if incident.reported_at else _time_left(incident.deadline, now),
        "overdue": incident.reported_at is None and now > incident.deadline,
        "late": incident.reported_at is not None and incident.reported_at > incident.deadline,
        "steps": [event_ref(event) for event in steps],
        "taken": list(incident.steps.all()),
    }


def incident_rows(model: Any, *, now: dt.datetime) -> list[dict[str, Any]]:
    """The rows of ``model``'s incident register as at ``now`` (the view passes the wall clock, tests a fixed one)."""
    incidents = Incident.objects.filter(model=model).select_related("version", "report_export").order_by("-aware_at")
    return [_incident_row(i, now) for i in incidents]


@portal_view(GET="models:read", POST=DECIDE_SCOPE)
def model_incidents(request: HttpRequest, name: str) -> HttpResponse:
    """A model's serious incidents with their deadlines, clocks and steps; officers record one here."""
    model = access_model(request.user, name, request)
    form = IncidentForm(auto_id="incident_%s")
    error = ""
    if request.method == "POST":
        form = IncidentForm(request.POST, auto_id="incident_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                number = data["version"]
                version = access_version(request.user, name, number, request) if number is not None else None
                incident = do_record_incident(
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    model=model,
                    version=version,
                    kind=data["kind"],
                    description=data["description"],
                    aware_at=data["aware_at"],
                )
            except ActionError as refused:
                error = str(refused)
            else:
                due = f"{incident.deadline:%Y-%m-%d %H:%M} UTC"
                messages.success(request, f"Incident {incident.pk} recorded: report it to the authority by {due}.")
                return redirect(reverse("obligations-portal:model-incidents", args=[name]))
        else:
            error = _form_error(form, "The incident was not recorded")
    now = timezone.now()
    context = {
        "model": model,
        "rows": incident_rows(model, now=now),
        "now": now,
        "can_decide": may(request, DECIDE_SCOPE),
        "form": form,
        "step_form": StepForm(auto_id=False),
        "error": error,
    }
    return render(request, "obligations/incidents.html", context, status=422 if error else 200)


def _incident_or_404(request: HttpRequest, name: str, pk: int) -> Incident:
    model = access_model(request.user, name, request)
    incident = Incident.objects.filter(model=model, pk=pk).select_related("model", "version").first()
    if incident is None:
        raise Http404("No such incident.")
    return incident


@portal_view(POST=DECIDE_SCOPE)
def incident_step(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Record a step taken about an incident (the API's action); a refusal is shown on the register, nothing kept."""
    incident = _incident_or_404(request, name, pk)
    form = StepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(form, f"The step of incident {pk} was not recorded"))
    else:
        try:
            step = do_record_incident_step(
                user=portal_user(request),
                actor=Actor.from_request(request),
                incident=incident,
                kind=form.cleaned_data["kind"],
                note=form.cleaned_data["note"],
            )
        except ActionError as refused:
            messages.error(request, str(refused))
        else:
            messages.success(request, f"Step recorded for incident {pk}: {step.get_kind_display()}.")
    return redirect(reverse("obligations-portal:model-incidents", args=[name]) + f"#incident-{pk}")


@portal_view(POST=DECIDE_SCOPE)
def report_incident(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Report an incident to the authority: the evidence bundle is built and the report recorded (the API's action)."""
    incident = _incident_or_404(request, name, pk)
    try:
        reported = do_report_incident(user=portal_user(request), actor=Actor.from_request(request), incident=incident)
    except ActionError as refused:
        messages.error(request, str(refused))
    else:
        late = " (after its deadline)" if reported.reported_at and reported.reported_at > reported.deadline else ""
        messages.success(request, f"Incident {pk} reported{late}: evidence bundle {reported.report_export_id}.")
    return redirect(reverse("obligations-portal:model-incidents", args=[name]))


@portal_view(GET="audits:read", POST=DECIDE_SCOPE)
def statement_of_applicability(request: HttpRequest) -> HttpResponse:
    """The ISO/IEC 42001 statement of applicability; officers decide on a control here."""
    form = SoaEntryForm(auto_id="soa_%s")
    error = ""
    if request.method == "POST":
        form = SoaEntryForm(request.POST, auto_id="soa_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                entry = soa.do_set_soa_entry(
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    control=data["control"],
                    applicable=data["applicable"],
                    justification=data["justification"],
                    implementation=data["implementation"],
                    document_name=data["document_name"],
                    document_sha256=data["document_sha256"],
                )
            except ActionError as refused:
                error = str(refused)
            else:
                messages.success(request, f"{entry.control} recorded (trail event #{entry.event_seq}).")
                return redirect(reverse("obligations-portal:soa") + f"#control-{entry.control}")
        else:
            error = _form_error(form, "The decision was not recorded")
    rows = soa.statement()
    counts = {kind: sum(1 for r in rows if r["decision"] == kind) for kind in ("applicable", "excluded", "undecided")}
    context = {"rows": rows, "counts": counts, "can_decide": may(request, DECIDE_SCOPE), "form": form, "error": error}
    return render(request, "obligations/soa.html", context, status=422 if error else 200)
