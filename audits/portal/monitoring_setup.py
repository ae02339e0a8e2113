"""Setting up a version's monitoring in the portal, from the columns its reference data declares: which dataset
version is the reference, which columns are the monitored features, the decision (or score and threshold), the true
label and the protected attributes, as ``PUT /api/v1/models/{name}/versions/{n}/monitoring`` takes them.

The page reads the columns of the chosen reference version (its registered schema), so every role is chosen from
what the data has, never typed. What is chosen is judged by the API's ``MonitorConfigSerializer`` and configured by
the API's action ``do_configure_monitoring`` (the same checks, the reference profiled once, the same trail event).
A refusal is shown under the field it concerns, in the form's words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audits.api.monitoring import MonitorConfigSerializer
from audits.models import AuditRun, Policy, RunStatus
from audits.monitoring import actions as monitoring
from audits.policies import builtin_policies
from governance.access.actions import ActionError
from governance.data.access import datasets_visible_to
from governance.data.models import DataFormat, DatasetVersion
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view, refusal, set_choices
from governance.web.portal.wording import in_labels, place_refusal
from registry.access import access_version
from registry.models import ModelVersion, MonitorConfig, ReferenceKind
from registry.portal.views import version_url

OFFERED = 300  # the newest stored dataset versions offered as the reference
NONE = [("", "none")]


class MonitoringForm(forms.Form):
    reference = forms.ChoiceField(
        label="Reference data",
        help_text="The dataset version production batches are compared with; profiled once, when you save.",
    )
    reference_kind = forms.ChoiceField(label="The reference is", choices=ReferenceKind.choices)
    features = forms.MultipleChoiceField(
        label="Monitored features",
        widget=forms.CheckboxSelectMultiple,
        help_text="Each is compared with the reference for drift (PSI, and KS or Jensen-Shannon) in every batch.",
    )
    prediction = forms.CharField(
        label="Decision column",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "reference-columns", "autocomplete": "off"}),
        help_text="The batches' column holding the model's decisions (the reference's columns are suggested). When the "
        "reference has no such column, the model's own decisions on the reference are the baseline (a version with a "
        "model file).",
    )
    score = forms.CharField(
        label="Score column",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"list": "reference-columns", "autocomplete": "off"}),
        help_text="Or a score and a threshold.",
    )
    threshold = forms.FloatField(label="Decision threshold", required=False, min_value=-1e12, max_value=1e12)
    favourable = forms.CharField(label="Favourable decision value", max_length=200, initial="1")
    label = forms.ChoiceField(
        label="Label column", required=False, help_text="The true outcome, for performance decay when labels arrive."
    )
    protected = forms.MultipleChoiceField(
        label="Protected attributes",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Live fairness: each group's selection rate against the reference group's, per batch (up to ten).",
    )
    policy = forms.ChoiceField(
        label="Policy",
        required=False,
        help_text="Its monitoring thresholds (PSI warning and alert, impact ratio, the minimum rows a batch needs to "
        "be judged) and its group rules for live fairness.",
    )

    def __init__(
        self,
        *args: Any,
        references: list[tuple[str, str]],
        columns: list[str],
        policies: list[str],
        required_policy: str,
        model_order: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.model_order = list(model_order)
        set_choices(self, "reference", references)
        default = [("", f"The policy the model's risk tier requires ({required_policy})")]
        set_choices(self, "policy", default + [(p, p) for p in policies])
        named = [(c, c) for c in columns]
        for name in ("features", "protected"):
            set_choices(self, name, named)
        set_choices(self, "label", NONE + named)
        self.columns = list(columns)

    def _in_model_order(self, chosen: list[str]) -> list[str]:
        """Checkboxes give the reference's column order; a model reading one matrix needs its own (the features of
        its latest audit): the chosen features in that order, any others after them."""
        rank = {name: i for i, name in enumerate(self.model_order)}
        return sorted(chosen, key=lambda name: rank.get(name, len(rank)))

    def as_api(self) -> dict[str, Any]:
        """The form as the API's request body (``MonitorConfigSerializer``)."""
        data = self.cleaned_data
        dataset, number = data["reference"].rsplit("@", 1)
        body: dict[str, Any] = {
            "reference_kind": data["reference_kind"],
            "reference": {"dataset": dataset, "version": int(number)},
            "features": [{"name": name} for name in self._in_model_order(data["features"])],
            "favourable": data["favourable"],
            "protected": list(data["protected"]),
        }
        body |= {k: data[k] for k in ("prediction", "score", "label", "policy") if data[k]}
        if data["threshold"] is not None:
            body["threshold"] = data["threshold"]
        return body


NAMES = {name: name for name in MonitoringForm.base_fields}


def _references(request: HttpRequest) -> dict[str, DatasetVersion]:
    """Stored dataset versions the user may see (an external URI cannot be profiled), by ``name@number``."""
    versions = (
        DatasetVersion.objects.filter(dataset__in=datasets_visible_to(request.user))
        .exclude(format=DataFormat.EXTERNAL)
        .select_related("dataset")
        .order_by("-created_at", "-id")[:OFFERED]
    )
    return {f"{v.dataset.name}@{v.number}": v for v in versions}


def _default_reference(version: ModelVersion, config: MonitorConfig | None, offered: Mapping[str, Any]) -> str:
    """The configured reference, else the version's first training dataset, else the newest offered."""
    if config is not None:
        return f"{config.reference.dataset.name}@{config.reference.number}"
    for ref in version.training_datasets or []:
        key = f"{ref.get('dataset')}@{ref.get('version')}"
        if key in offered:
            return key
    return next(iter(offered), "")


def _latest_roles(version: ModelVersion) -> dict[str, Any]:
    run = AuditRun.objects.filter(model_version=version, status=RunStatus.DONE).order_by("-finished_at").first()
    return dict(run.column_roles or {}) if run is not None else {}


def _model_order(version: ModelVersion) -> list[str]:
    """The order the model reads its inputs: its declared input names, else its latest audit's features."""
    declared = [str(c["name"]) for c in version.input_schema or [] if isinstance(c, Mapping) and c.get("name")]
    return declared if len(declared) > 1 else list(_latest_roles(version).get("features") or [])


def _initial(
    version: ModelVersion, config: MonitorConfig | None, reference: DatasetVersion | None, columns: list[str]
) -> dict[str, Any]:
    """What the form starts from: the current set-up; else the model's declared inputs as features (or, for a model
    whose inputs are one unnamed matrix, the features its latest finished audit gave, in their order), that audit's
    protected attributes, and the reference's own label column."""
    if config is not None:
        spec = config.spec or {}
        return {
            "reference_kind": config.reference_kind,
            "features": [f["name"] for f in spec.get("features", [])],
            **{k: spec.get(k) for k in ("prediction", "score", "threshold", "favourable", "label", "protected")},
            "policy": config.policy,
        }
    declared = [c.get("name") for c in version.input_schema or [] if isinstance(c, Mapping)]
    features = [name for name in declared if name in columns]
    roles = _latest_roles(version)
    return {
        "reference_kind": ReferenceKind.TRAINING,
        "features": features or [name for name in roles.get("features") or [] if name in columns],
        "protected": [name for name in roles.get("protected") or [] if name in columns],
        "label": reference.label_column if reference is not None and reference.label_column in columns else "",
        "favourable": "1",
    }


@portal_view(GET="models:read", POST="models:write")
def monitoring_setup(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Choose the reference (GET ``reference``), then the column roles from its columns; POST configures."""
    version = access_version(request.user, name, number, request)
    config = MonitorConfig.objects.filter(version=version).select_related("reference__dataset").first()
    offered = _references(request)
    chosen = request.POST.get("reference") or request.GET.get("reference") or ""
    if chosen not in offered:
        chosen = _default_reference(version, config, offered)
    reference = offered.get(chosen)
    columns = [c["name"] for c in (reference.schema if reference else []) if isinstance(c, Mapping) and c.get("name")]
    references = [(key, f"{v.dataset.name} v{v.number} ({v.row_count or 0:,} rows)") for key, v in offered.items()]
    choices: dict[str, Any] = {
        "references": references,
        "columns": columns,
        # Reading never writes: built-in policies are offered by name (the action stores one when it is chosen).
        "policies": sorted(set(Policy.objects.values_list("name", flat=True)) | set(builtin_policies())),
        "required_policy": settings.AUDIT_REQUIRED_POLICIES.get(version.model.risk_tier) or "baseline",
        "model_order": _model_order(version),
    }
    status, error = 200, ""
    if request.method == "POST":
        form = MonitoringForm(request.POST, **choices)
        status, error = 400, "Please correct the problems marked below."
        if form.is_valid():
            serializer = MonitorConfigSerializer(data=form.as_api())
            if not serializer.is_valid():
                for key, detail in serializer.errors.items():
                    for text in detail if isinstance(detail, list) else [detail]:
                        form.add_error(NAMES.get(key), in_labels(str(text), form, NAMES))
            else:
                # Only what the form asks (fields the API adds later keep the action's defaults); the reference is
                # the version resolved above.
                data = {k: v for k, v in serializer.validated_data.items() if k in NAMES and k != "reference"}
                try:
                    monitoring.do_configure_monitoring(
                        version=version,
                        user=portal_user(request),
                        actor=Actor.from_request(request),
                        reference=reference,
                        **data,
                    )
                except ActionError as exc:
                    _message, status = refusal(request, exc)
                    error = place_refusal(form, exc, NAMES)
                else:
                    messages.success(
                        request,
                        f"Monitoring of {version} is set up against {chosen.replace('@', ' v')} (profiled once). "
                        "Send production batches below.",
                    )
                    return redirect(version_url(version) + "#monitoring")
    else:
        form = MonitoringForm(initial={"reference": chosen, **_initial(version, config, reference, columns)}, **choices)
    context = {
        "version": version,
        "model": version.model,
        "form": form,
        "config": config,
        "reference": reference,
        "error": error,
        "can_configure": may(request, "models:write"),
    }
    return render(request, "audits/monitoring_setup.html", context, status=status)
