"""Portal pages of the audit engine: audit runs (list, results, live progress) and starting a run.

Runs are found through ``audits.access`` and started through ``audits.actions.do_start_audit``, as in the API.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from rest_framework.exceptions import ValidationError as ApiValidationError

from audits import actions
from audits.access import access_run, runs_visible_to
from audits.api.serializers import ColumnRolesSerializer
from audits.checks import registry
from audits.models import AuditRun, Policy, ReportBuildStatus, RunStatus, Verdict
from audits.policies import builtin_policies
from audits.policies import resolve as resolve_policy
from audits.portal import charts
from audits.portal.forms import AuditTargetForm, ColumnRolesForm, ModelInputs
from audits.reports.access import reports_visible_to
from audits.reports.builds import latest_build, request_run_report
from governance.access.actions import ActionError
from governance.data.access import access_dataset_version, datasets_visible_to
from governance.data.models import DatasetVersion
from governance.trail.log import Actor
from governance.web.api.fields import validated
from governance.web.portal.access import may, portal_user, portal_view, refusal
from governance.web.portal.pagination import paginate
from registry.access import access_version, models_visible_to
from registry.models import Framework, ModelVersion


@portal_view(GET="audits:read")
def run_list(request: HttpRequest) -> HttpResponse:
    """Audit runs of the models the user may see, filtered by model, policy, status and verdict."""
    runs = runs_visible_to(request.user)
    params = request.GET
    if params.get("model"):
        runs = runs.filter(model_version__model__name=params["model"])
    if params.get("policy"):
        runs = runs.filter(policy_version__policy__name=params["policy"])
    if params.get("status") in RunStatus.values:
        runs = runs.filter(status=params["status"])
    if params.get("verdict") in Verdict.values:
        runs = runs.filter(verdict=params["verdict"])
    page = paginate(request, runs.order_by("-created_at", "-id"))
    return render(
        request,
        "audits/run_list.html",
        {
            "page": page,
            "statuses": RunStatus.choices,
            "verdicts": Verdict.choices,
            "policies": Policy.objects.order_by("name").values_list("name", flat=True),
            "filters": {k: params.get(k, "") for k in ("model", "policy", "status", "verdict")},
            "can_run": may(request, "audits:run"),
        },
    )


def _template(name: str) -> str:
    """The template showing a check's details (its ``template`` in ``audits.checks.registry``), else the generic one."""
    spec = registry.find(name)
    return spec.template if spec else registry.GENERIC_TEMPLATE


def _run_context(request: HttpRequest, run: AuditRun) -> dict[str, Any]:
    checks = []
    for check in run.checks.all():
        checks.append(
            {
                "check": check,
                "template": _template(check.check_name),
                "charts": charts.for_run(run, check.check_name, check.details),
            }
        )
    return {"run": run, "checks": checks, "live": run.status in (RunStatus.QUEUED, RunStatus.RUNNING)}


@portal_view(GET="audits:read")
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: verdict and reasons, every check's tables and charts, what reproduces it; live while it runs.
    ``?part=report`` answers only the report section, which the page polls while a worker makes the report."""
    run = access_run(request.user, pk, request)
    if request.GET.get("part") == "report":
        return render(request, "audits/_report.html", {"run": run, "report": _report_links(request, run)})
    context = _run_context(request, run)
    context["report"] = _report_links(request, run)
    return render(request, "audits/run_detail.html", context)


@portal_view(GET="audits:read")
def run_body(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's status and results as a fragment: polled (htmx) every second while the run is queued or running."""
    run = access_run(request.user, pk, request)
    return render(request, "audits/_run_body.html", _run_context(request, run))


def _report_links(request: HttpRequest, run: AuditRun) -> dict[str, Any]:
    """The signed PDF reports of a run (newest first), the build a worker is on (or the reason the last one failed)
    and whether this user may have one made."""
    build = latest_build(run)
    return {
        "reports": list(reports_visible_to(request.user).filter(run=run).order_by("-created_at")[:5]),
        "can_build": may(request, "audits:run") and run.status == RunStatus.DONE,
        "build": build if build is not None and build.status != ReportBuildStatus.READY else None,
    }


@portal_view(POST="audits:run")
def run_report(request: HttpRequest, pk: int) -> HttpResponse:
    """Ask a worker for the run's signed PDF report (reused while still current); the page shows its progress."""
    run = access_run(request.user, pk, request)
    try:
        _build, created = request_run_report(run, user=portal_user(request))
    except ActionError as exc:
        messages.error(request, refusal(request, exc)[0])
    else:
        if not created:
            messages.info(request, "This run's report is already being made: its progress is shown below.")
    return redirect(reverse("audits-portal:run-detail", args=[run.pk]) + "#h-report")


# --- starting a run ----------------------------------------------------------------------------------------------


def _choices(request: HttpRequest) -> dict[str, Any]:
    versions = ModelVersion.objects.filter(model__in=models_visible_to(request.user)).select_related("model")
    datasets = (
        DatasetVersion.objects.filter(dataset__in=datasets_visible_to(request.user))
        .exclude(file="", source_uri="")  # a stored file, or a source read where it lives
        .select_related("dataset")
    )
    # Reading never writes: the built-in policies are offered by name and stored when a run is started.
    policies = set(Policy.objects.values_list("name", flat=True)) | set(builtin_policies())
    tiers = settings.AUDIT_REQUIRED_POLICIES
    ordered = list(versions.order_by("model__name", "-number"))
    return {
        "versions": [f"{v.model.name}/v{v.number}" for v in ordered],
        "datasets": [f"{d.dataset.name}/v{d.number}" for d in datasets.order_by("dataset__name", "-number")],
        "policies": sorted(policies),
        "required": {
            f"{v.model.name}/v{v.number}": tiers[v.model.risk_tier] for v in ordered if v.model.risk_tier in tiers
        },
        "tiers": dict(tiers),
    }


def _model_inputs(version: ModelVersion) -> ModelInputs | None:
    """What the version's artifact says of its inputs; None for a version without an artifact."""
    if not version.artifact or version.framework == Framework.PREDICTIONS:
        return None
    return ModelInputs.of(version.input_schema, version.framework)


def _policy_note(version: ModelVersion, policy: str) -> str:
    """Said when the chosen policy is not the one the model's tier requires (the audit will not count for it)."""
    required = settings.AUDIT_REQUIRED_POLICIES.get(version.model.risk_tier)
    if not required or required == policy:
        return ""
    return (
        f"{version.model.name} is {version.model.get_risk_tier_display().lower()}: approvals and the deployment "
        f"gate count only audits under {required}. An audit under {policy} is kept, but does not count for them."
    )


@portal_view(GET="audits:run", POST="audits:run")
def run_new(request: HttpRequest) -> HttpResponse:
    """Start an audit: step one picks what and under which policy; step two the dataset's column roles."""
    choices = _choices(request)
    data = request.POST if request.method == "POST" else request.GET
    initial = {}
    if request.GET.get("model") and request.GET.get("version"):
        initial["model_version"] = f"{request.GET['model']}/v{request.GET['version']}"
    picked = "dataset_version" in data
    target = AuditTargetForm(data if picked else None, initial=initial, **choices)
    context: dict[str, Any] = {"target": target, "roles": None, "columns": []}
    if not picked or not target.is_valid():
        return render(request, "audits/run_new.html", context, status=400 if picked else 200)
    (model, number), (dataset, dataset_number) = target.refs()
    version = access_version(request.user, model, number, request)
    dataset_version = access_dataset_version(request.user, dataset, dataset_number, request)
    columns = [column["name"] for column in dataset_version.schema]
    policy = target.cleaned_data["policy"]
    context |= {"columns": columns, "policy": policy, "policy_note": _policy_note(version, policy)}
    inputs = _model_inputs(version)
    if request.method != "POST":
        initial = _suggested_roles(dataset_version, columns)
        context["roles"] = ColumnRolesForm(columns=columns, inputs=inputs, initial=initial)
        return render(request, "audits/run_new.html", context)
    roles = ColumnRolesForm(request.POST, columns=columns, inputs=inputs)
    context["roles"] = roles
    if not roles.is_valid():
        return render(request, "audits/run_new.html", context, status=400)
    try:
        column_roles = validated(ColumnRolesSerializer, roles.column_roles())
    except ApiValidationError as exc:
        for field, problems in _problems(exc.detail).items():
            roles.add_error(field if field in roles.fields else None, problems)
        return render(request, "audits/run_new.html", context, status=400)
    actions.ensure_builtin_policies(only=policy)
    policy_version = resolve_policy(policy)
    try:
        run, created = actions.do_start_audit(
            user=portal_user(request),
            actor=Actor.from_request(request),
            model_version=version,
            dataset_version=dataset_version,
            policy_version=policy_version,
            column_roles=column_roles,
            force=roles.cleaned_data["force"],
        )
    except ActionError as exc:
        context["error"], status = refusal(request, exc)
        return render(request, "audits/run_new.html", context, status=status)
    # No "started" message: the run's page says its state itself (queued, running with progress, its verdict, or
    # "The audit could not run: ..."), so a success note can never sit above a failure.
    if not created:
        messages.info(request, f"This exact audit already exists: #{run.pk} (tick 'run again' to repeat it).")
    return redirect("audits-portal:run-detail", pk=run.pk)


def _suggested_roles(dataset_version: DatasetVersion, columns: list[str]) -> dict[str, Any]:
    label = dataset_version.label_column if dataset_version.label_column in columns else ""
    return {"label": label, "favourable": "1"}


def _problems(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail flattened to {field: [messages]}."""
    found: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            for field, items in _problems(value, key if key != "non_field_errors" else prefix).items():
                found.setdefault(field, []).extend(items)
    elif isinstance(detail, list):
        for item in detail:
            for field, items in _problems(item, prefix).items():
                found.setdefault(field, []).extend(items)
    else:
        found.setdefault(prefix, []).append(str(detail))
    return found
