"""Recording a lineage run in the portal: a job that read some dataset versions and wrote others (or trained model
versions), as ``POST /api/v1/lineage/runs/`` records it.

The form offers only the versions the user may see; what is chosen is judged by the API's ``RunCreateSerializer``,
resolved through the same access chokepoints as the API (``access_dataset_version``, ``access_version``) and recorded
by ``do_record_run`` (the same checks: a run needs an output, lineage must not loop; the same trail event). A refusal
is shown under the field it concerns, in the form's words.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from governance.access.actions import ActionError
from governance.data import actions
from governance.data.access import access_dataset_version, datasets_visible_to
from governance.data.api.serializers import RunCreateSerializer
from governance.data.models import DatasetVersion
from governance.portal.data_register import api_judged
from governance.trail.log import Actor
from governance.web.portal.access import portal_user, portal_view, refusal, set_choices
from governance.web.portal.wording import place_refusal
from registry.access import access_version, models_visible_to
from registry.models import ModelVersion

OFFERED = 500  # the newest versions offered per list; the API names any version


class RunForm(forms.Form):
    job_name = forms.CharField(
        label="Job name", max_length=500, help_text="What ran, e.g. clean-applications or train-credit-model."
    )
    job_namespace = forms.CharField(
        label="Job namespace", max_length=500, initial="assay", help_text="Where the job is defined (a pipeline)."
    )
    code_ref = forms.CharField(
        label="Code reference", required=False, max_length=500, help_text="A commit or a script's path."
    )
    inputs = forms.MultipleChoiceField(
        label="Dataset versions it read", required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    outputs = forms.MultipleChoiceField(
        label="Dataset versions it wrote", required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )
    model_outputs = forms.MultipleChoiceField(
        label="Model versions it trained", required=False, widget=forms.SelectMultiple(attrs={"size": 6})
    )

    def __init__(self, *args: Any, datasets: list[tuple[str, str]], models: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        set_choices(self, "inputs", datasets)
        set_choices(self, "outputs", datasets)
        set_choices(self, "model_outputs", models)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("outputs") or data.get("model_outputs")):
            self.add_error("outputs", "Choose at least one dataset version it wrote or model version it trained.")
        return data

    def as_api(self) -> dict[str, Any]:
        """The form as the API's request body (``RunCreateSerializer``)."""
        data = self.cleaned_data

        def refs(values: list[str], kind: str) -> list[dict[str, Any]]:
            return [{kind: name, "version": int(number)} for name, number in (v.rsplit("@", 1) for v in values)]

        return {
            "job_name": data["job_name"],
            "job_namespace": data["job_namespace"],
            "code_ref": data["code_ref"],
            "inputs": refs(data["inputs"], "dataset"),
            "outputs": refs(data["outputs"], "dataset") + refs(data["model_outputs"], "model"),
        }


# The API names of the form's fields (the same names here; model outputs go into the API's "outputs").
NAMES = {
    "job_name": "job_name",
    "job_namespace": "job_namespace",
    "code_ref": "code_ref",
    "inputs": "inputs",
    "outputs": "outputs",
    "model_outputs": "model_outputs",
}


def _choices(request: HttpRequest) -> dict[str, list[tuple[str, str]]]:
    versions = (
        DatasetVersion.objects.filter(dataset__in=datasets_visible_to(request.user))
        .select_related("dataset")
        .order_by("-created_at", "-id")[:OFFERED]
    )
    model_versions = (
        ModelVersion.objects.filter(model__in=models_visible_to(request.user))
        .select_related("model")
        .order_by("-created_at", "-id")[:OFFERED]
    )
    return {
        "datasets": sorted((f"{v.dataset.name}@{v.number}", f"{v.dataset.name} v{v.number}") for v in versions),
        "models": sorted((f"{v.model.name}@{v.number}", f"{v.model.name} v{v.number}") for v in model_versions),
    }


@portal_view(GET="datasets:write", POST="datasets:write")
def run_new(request: HttpRequest) -> HttpResponse:
    """Record a lineage run (``do_record_run``); then its first dataset output's page shows the lineage."""
    choices = _choices(request)
    initial = {"outputs": [request.GET["output"]]} if request.GET.get("output") else None
    form = RunForm(request.POST or None, initial=initial, **choices)
    status, error = 200, ""
    if request.method == "POST":
        status, error = 400, "Please correct the problems marked below."
        body = form.is_valid() and api_judged(RunCreateSerializer, form.as_api(), form, NAMES)
        if body:
            inputs = [access_dataset_version(request.user, r["dataset"], r["version"], request) for r in body["inputs"]]
            outputs = [
                access_dataset_version(request.user, r["dataset"], r["version"], request)
                for r in body["outputs"]
                if "dataset" in r
            ]
            models = [
                access_version(request.user, r["model"], r["version"], request) for r in body["outputs"] if "model" in r
            ]
            try:
                run = actions.do_record_run(
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    job_name=body["job_name"],
                    job_namespace=body["job_namespace"],
                    code_ref=body["code_ref"],
                    inputs=inputs,
                    outputs=outputs,
                    model_outputs=models,  # source "api": Assay's own record, as the API's (not OpenLineage's)
                )
            except ActionError as exc:
                _message, status = refusal(request, exc)
                error = place_refusal(form, exc, NAMES)
            else:
                messages.success(
                    request, f"Lineage run {run.job_namespace}/{run.job_name} is recorded ({len(inputs)} input(s))."
                )
                if outputs:
                    return redirect("portal:dataset-version", name=outputs[0].dataset.name, number=outputs[0].number)
                return redirect("registry-portal:version-detail", name=models[0].model.name, number=models[0].number)
    return render(request, "data/run_new.html", {"form": form, "error": error}, status=status)
