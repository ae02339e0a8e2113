"""Portal pages of the registry: models, versions and their lifecycle, approvals, findings, point-in-time history.

Each page parses, checks access (``portal_view`` scopes and ``registry.access``), acts through ``registry.actions``
and responds, as the API does. A refused action re-renders the page with the action's own message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.safestring import mark_safe

from governance.access.actions import ActionError
from governance.access.models import Team, User
from governance.access.scoping import get_visible_or_404
from governance.data.lineage import graph_as_json, traverse
from governance.trail.log import Actor
from governance.trail.models import Event
from governance.web.portal.access import may, portal_user, portal_view, refusal
from governance.web.portal.pagination import paginate
from governance.web.portal.svg import lineage_svg
from registry import actions, hooks, risk
from registry.access import access_model, access_version, models_visible_to
from registry.history import deployed_as_of
from registry.models import (
    Finding,
    FindingStatus,
    ModelVersion,
    RegisteredModel,
    RiskTier,
    VersionState,
)
from registry.portal import forms, rules
from registry.portal.evidence import evidence_for


def version_url(version: ModelVersion) -> str:
    return reverse("registry-portal:version-detail", args=[version.model.name, version.number])


# --- models --------------------------------------------------------------------------------------------------


@portal_view(GET="models:read")
def model_list(request: HttpRequest) -> HttpResponse:
    """Every model the user may see, filtered by team, risk tier, stage (a version's state) and audit verdict."""
    models = models_visible_to(request.user).annotate(
        open_findings=Count(
            "versions__findings", filter=Q(versions__findings__status=FindingStatus.OPEN), distinct=True
        )
    )
    params = request.GET
    if params.get("team"):
        models = models.filter(team__slug=params["team"])
    if params.get("tier") in RiskTier.values:
        models = models.filter(risk_tier=params["tier"])
    if params.get("stage") in VersionState.values:
        models = models.filter(versions__state=params["stage"])
    if params.get("verdict") in {value for value, _label in hooks.VERDICTS}:
        models = models.filter(versions__audit_runs__verdict=params["verdict"])
    page = paginate(request, models.distinct().order_by("name"))
    rows = []
    for model in page:
        latest = model.versions.order_by("-number").first()
        # The latest version's own latest audit: "v2" beside v1's failing audit read as v2's verdict.
        run = (
            hooks.runs_visible_to(request.user)
            .filter(model_version=latest, status="done")
            .order_by("-created_at", "-id")
            .first()
            if latest
            else None
        )
        live = {
            d.environment: d.version.number
            for d in model.deployments.filter(retired_at__isnull=True).select_related("version")
        }
        rows.append({"model": model, "latest": latest, "run": run, "live": live})
    teams = Team.objects.filter(models__in=models_visible_to(request.user)).distinct().order_by("slug")
    return render(
        request,
        "registry/model_list.html",
        {
            "page": page,
            "rows": rows,
            "teams": teams,
            "tiers": RiskTier.choices,
            "stages": VersionState.choices,
            "verdicts": hooks.VERDICTS,
            "filters": {k: params.get(k, "") for k in ("team", "tier", "stage", "verdict")},
            "filtered": any(params.get(k) for k in ("team", "tier", "stage", "verdict")),
            "can_register": may(request, "models:write"),
        },
    )


def _timeline(model: RegisteredModel) -> Any:
    """The model's own trail events and its versions' lifecycle events, newest first."""
    return Event.objects.filter(
        Q(object_type="registry.registeredmodel", object_id=str(model.pk))
        | Q(object_type__in=("registry.modelversion", "registry.finding"), payload__model=model.name)
    ).order_by("-seq")


@portal_view(GET="models:read")
def model_detail(request: HttpRequest, name: str) -> HttpResponse:
    """A model: its versions, lifecycle timeline, audit runs, open findings and what was live on a date."""
    model = access_model(request.user, name, request)
    status = 200
    history, as_of_form = None, forms.AsOfForm(request.GET or None)
    if "as_of" in request.GET:
        if as_of_form.is_valid():
            day = as_of_form.cleaned_data["as_of"]
            moment = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
            history = deployed_as_of(model, moment)
        else:
            status = 400
    versions = paginate(request, model.versions.order_by("-number"), param="versions")
    events = paginate(request, _timeline(model), param="events", per_page=15)
    runs = paginate(
        request, hooks.runs_visible_to(request.user).filter(model_version__model=model), param="runs", per_page=10
    )
    findings = Finding.objects.filter(version__model=model, status=FindingStatus.OPEN).select_related("version")
    latest = model.versions.order_by("-number").first()
    lineage = None
    if latest is not None:
        graph = graph_as_json(traverse(latest, direction="upstream"), user=request.user)
        if graph["runs"]:
            lineage = mark_safe(lineage_svg(graph))  # noqa: S308 - built by svg.py, which escapes every text
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "versions": versions,
            "events": events,
            "usernames": _usernames(e.actor_user_id for e in events),
            "runs": runs,
            "findings": findings,
            "latest": latest,
            "lineage": lineage,
            "history": history,
            "as_of_form": as_of_form,
            "can_audit": may(request, "audits:run"),
            "can_register": may(request, "models:write"),
        },
        status=status,
    )


@portal_view(GET="models:read", POST="models:classify")
def model_risk(request: HttpRequest, name: str) -> HttpResponse:
    """A model's risk classification under the EU AI Act, and (officers) the questionnaire to change it with a
    reason, through registry.actions.do_change_risk."""
    model = access_model(request.user, name, request)
    status, error = 200, ""
    if request.method == "POST":
        form = forms.RiskQuestionnaireForm(request.POST)
        if form.is_valid():
            try:
                actions.do_change_risk(
                    model=model,
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    risk_answers=form.answers(),
                    reason=form.cleaned_data["reason"],
                )
            except ActionError as exc:
                error, status = refusal(request, exc)
            else:
                model.refresh_from_db()
                messages.success(request, f"{model.name} is now classified {model.get_risk_tier_display().lower()}.")
                return redirect("registry-portal:model-risk", name=model.name)
        else:
            error, status = "Please correct the problems marked below.", 400
    else:
        form = forms.RiskQuestionnaireForm(initial=_current_answers(model))
    return render(
        request,
        "registry/model_risk.html",
        {
            "model": model,
            "basis": model.risk_basis or {},
            "form": form,
            "can_classify": may(request, "models:classify"),
            "error": error,
        },
        status=status,
    )


def _current_answers(model: RegisteredModel) -> dict[str, Any]:
    try:
        return risk.current_answers(model.risk_answers or {})
    except risk.QuestionnaireError:
        return {}  # stored answers that no questionnaire reads: start from a blank form


def _usernames(ids: Any) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    return dict(User.objects.filter(pk__in=wanted).values_list("pk", "username"))


# --- versions ------------------------------------------------------------------------------------------------


def _version_context(request: HttpRequest, version: ModelVersion, **extra: Any) -> dict[str, Any]:
    user = portal_user(request)
    card_refusal = rules.card_refusal(user, version) if may(request, "models:write") else None
    card_form = extra.pop("card_form", None) or forms.ModelCardForm(initial=version.model_card)
    graph = graph_as_json(traverse(version, direction="upstream"), user=request.user)
    lineage = mark_safe(lineage_svg(graph)) if graph["runs"] else None  # noqa: S308 - svg.py escapes every text
    findings = Finding.objects.filter(version=version).select_related("resolved_by").order_by("status", "-opened_at")
    retire_resolution = rules.retire_resolution_refusal(user, version)
    evidence = evidence_for(user, version) if version.state == VersionState.SUBMITTED else None
    return {
        "version": version,
        "model": version.model,
        "reviews": version.reviews.select_related("reviewer"),
        "deployments": version.deployments.select_related("deployed_by", "retired_by").order_by("-deployed_at"),
        "card_sections": [(forms.SECTION_TITLES[k], version.model_card.get(k, "")) for k in forms.SECTION_TITLES],
        "card_form": card_form,
        "card_editable": may(request, "models:write") and card_refusal is None,
        "card_refusal": card_refusal,
        "review_refusal": rules.review_refusal(user, version),
        "submit_refusal": rules.submit_refusal(user, version),
        "deploy_refusal": rules.deploy_refusal(user, version),
        "retire_refusal": rules.retire_refusal(user, version) if version.state == VersionState.DEPLOYED else None,
        "can_retire": may(request, "models:deploy") and version.state == VersionState.DEPLOYED,
        "can_resolve": may(request, "findings:resolve"),
        "resolve_refusals": {f.pk: rules.resolve_refusal(user, f) for f in findings if f.status == FindingStatus.OPEN},
        # Panels other apps add to the version page (monitoring: audits/portal/monitoring.py).
        **{name: panel(request, version, list(findings)) for name, panel in hooks.VERSION_PANELS.items()},
        "batch_form": extra.pop("batch_form", None) or forms.BatchUploadForm(auto_id="batch_%s"),
        # Several forms share field names on one page: each gets its own element ids (approve_reason, ...).
        "approve_form": _approve_form(extra.pop("approve_form", None), evidence),
        "evidence": evidence,
        "reject_form": extra.pop("reject_form", None) or forms.RejectForm(auto_id="reject_%s"),
        "deploy_form": extra.pop("deploy_form", None) or forms.DeployForm(auto_id="deploy_%s"),
        "retire_form": extra.pop("retire_form", None) or forms.RetireForm(auto_id="retire_%s"),
        "resolve_form": forms.ResolveFindingForm(allow_retire=retire_resolution is None),
        "retire_resolution_refusal": retire_resolution,
        "findings": findings,
        "runs": hooks.runs_visible_to(request.user).filter(model_version=version)[:20],
        "lineage": lineage,
        "can_audit": may(request, "audits:run"),
        **extra,
    }


def _approve_form(form: forms.ApproveForm | None, evidence: Any) -> forms.ApproveForm:
    """The approve form; over evidence against the version its reason is marked as required (the view asks it)."""
    form = form or forms.ApproveForm(auto_id="approve_%s")
    form.fields["reason"].required = evidence is not None and not evidence.clean
    return form


@portal_view(GET="models:read")
def version_detail(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """A version: facts, model card (editable while under review), approvals, lifecycle steps, findings, audits."""
    version = access_version(request.user, name, number, request)
    return render(request, "registry/version_detail.html", _version_context(request, version))


def version_refused(request: HttpRequest, version: ModelVersion, exc: ActionError, **forms_: Any) -> HttpResponse:
    message, status = refusal(request, exc)
    version.refresh_from_db()
    context = _version_context(request, version, error=message, **forms_)
    return render(request, "registry/version_detail.html", context, status=status)


def version_invalid(request: HttpRequest, version: ModelVersion, **forms_: Any) -> HttpResponse:
    context = _version_context(request, version, error="Please correct the problems marked below.", **forms_)
    return render(request, "registry/version_detail.html", context, status=400)


@portal_view(POST="models:write")
def version_card(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Save the model card's changed sections (the action refuses once the version left review)."""
    version = access_version(request.user, name, number, request)
    form = forms.ModelCardForm(request.POST)
    if not form.is_valid():
        return version_invalid(request, version, card_form=form)
    changed = {k: v for k, v in form.cleaned_data.items() if v != version.model_card.get(k, "")}
    try:
        actions.do_edit_model_card(
            version=version, user=portal_user(request), actor=Actor.from_request(request), card=changed
        )
    except ActionError as exc:
        return version_refused(request, version, exc, card_form=form)
    messages.success(request, f"Model card saved ({len(changed)} section{'s' if len(changed) != 1 else ''} changed).")
    return redirect(version_url(version))


_TRANSITIONS: dict[str, tuple[str, type, str]] = {
    # transition -> (scope, form, what the success message says)
    "submit": ("models:write", forms.ReasonForm, "Submitted for review."),
    "reject": ("models:approve", forms.RejectForm, "Rejected."),
    "deploy": ("models:deploy", forms.DeployForm, "Deployed."),
    "retire": ("models:deploy", forms.RetireForm, "Retired."),
}


def _transition_view(transition: str) -> Any:
    scope, form_class, done = _TRANSITIONS[transition]

    @portal_view(POST=scope)
    def view(request: HttpRequest, name: str, number: int) -> HttpResponse:
        version = access_version(request.user, name, number, request)
        form = form_class(request.POST, auto_id=f"{transition}_%s")
        form_key = f"{transition}_form"
        if not form.is_valid():
            return version_invalid(request, version, **{form_key: form})
        data = dict(form.cleaned_data)
        if transition == "retire":
            data["environment"] = data.get("environment") or None
        action = getattr(actions, f"do_{transition}")
        try:
            action(version=version, user=portal_user(request), actor=Actor.from_request(request), **data)
        except ActionError as exc:
            return version_refused(request, version, exc, **{form_key: form})
        version.refresh_from_db()
        messages.success(request, f"{done} {version} is now {version.get_state_display().lower()}.")
        return redirect(version_url(version))

    view.__name__ = f"version_{transition}"
    view.__doc__ = f"POST: {transition} the version, through registry.actions.do_{transition}."
    return view


version_submit = _transition_view("submit")
version_reject = _transition_view("reject")
version_deploy = _transition_view("deploy")
version_retire = _transition_view("retire")


@portal_view(POST="models:approve")
def version_approve(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """POST: approve the version through registry.actions.do_approve. Over evidence that is not clean (see
    ``registry.portal.evidence``) the reviewer must tick the acknowledgement of exactly the evidence on the page and
    give a reason; what was overridden is recorded in the event. Who may approve is the action's rule, asked first."""
    version = access_version(request.user, name, number, request)
    user = portal_user(request)
    form = forms.ApproveForm(request.POST, auto_id="approve_%s")
    if not form.is_valid():
        return version_invalid(request, version, approve_form=form)
    overrides = None
    if actions.approval_refusal(user, version) is None:  # else the action refuses, in its own words, below
        found = evidence_for(user, version)
        if not found.clean:
            problem = ""
            if form.cleaned_data["acknowledge"] != found.digest():
                problem = (
                    "The evidence changed since the page was shown: read it again before approving."
                    if form.cleaned_data["acknowledge"]
                    else f"Approving v{version.number} overrides the evidence shown above: tick the acknowledgement "
                    "to approve anyway, with a reason."
                )
                form.add_error("acknowledge", problem)
            if not form.cleaned_data["reason"].strip():
                problem = problem or "Approving over this evidence needs a reason."
                form.add_error("reason", "Say why you approve over this evidence.")
            if problem:
                context = _version_context(request, version, error=problem, approve_form=form)
                return render(request, "registry/version_detail.html", context, status=400)
            overrides = found.overrides()
    try:
        actions.do_approve(
            version=version,
            user=user,
            actor=Actor.from_request(request),
            reason=form.cleaned_data["reason"],
            overrides=overrides,
        )
    except ActionError as exc:
        return version_refused(request, version, exc, approve_form=form)
    version.refresh_from_db()
    over = " It overrides the evidence you acknowledged (recorded in the trail)." if overrides else ""
    messages.success(
        request, f"Your approval is recorded.{over} {version} is now {version.get_state_display().lower()}."
    )
    return redirect(version_url(version))


@portal_view(POST="findings:resolve")
def finding_resolve(request: HttpRequest, name: str, number: int, pk: int) -> HttpResponse:
    """Resolve an open finding (retrain, accept with a reason, retire), through do_resolve_finding."""
    version = access_version(request.user, name, number, request)
    finding = get_visible_or_404(
        Finding.objects.filter(version=version), request.user, request, within_visible_parent=True, pk=pk
    )
    form = forms.ResolveFindingForm(request.POST)
    if not form.is_valid():
        context = _version_context(request, version, error="Please give a resolution and a reason.")
        context["resolve_form"], context["resolve_target"] = form, finding.pk
        return render(request, "registry/version_detail.html", context, status=400)
    try:
        actions.do_resolve_finding(
            finding=finding, user=portal_user(request), actor=Actor.from_request(request), **form.cleaned_data
        )
    except ActionError as exc:
        return version_refused(request, version, exc)
    messages.success(request, f"Finding {finding.pk} resolved ({form.cleaned_data['resolution']}).")
    return redirect(version_url(version))


# --- approvals inbox -----------------------------------------------------------------------------------------


@portal_view(GET="models:approve")
def approvals(request: HttpRequest) -> HttpResponse:
    """Versions under review that the user may see: the ones they can decide on, and why not for the others."""
    user = portal_user(request)
    submitted = (
        ModelVersion.objects.filter(model__in=models_visible_to(user), state=VersionState.SUBMITTED)
        .select_related("model", "model__team", "created_by", "submitted_by")
        .order_by("submitted_at", "pk")
    )
    page = paginate(request, submitted)
    rows = [
        {
            "version": v,
            "refusal": rules.review_refusal(user, v),
            "approvals": v.reviews.count(),
            "required": risk.required_approvals(v.model.risk_tier),
            "evidence": evidence_for(user, v),
        }
        for v in page
    ]
    return render(request, "registry/approvals.html", {"page": page, "rows": rows})
