"""Reading a version's production batches from a partitioned source, in the portal: the table or folder, the date
column (or folder key), the first day and the lag, as ``PUT /api/v1/models/{name}/versions/{n}/monitoring/source``
takes them. The API's serializer judges the values and its action ``do_configure_batch_source`` configures (the
same checks, the same trail event); a refusal is shown under the field it concerns."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from audits.api.monitoring_source import BatchSourceSerializer
from audits.models import BatchSource
from audits.monitoring import actions as monitoring
from audits.monitoring.actions import sources as monitoring_sources
from governance.access.actions import ActionError
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view, refusal
from governance.web.portal.wording import in_labels, place_refusal
from registry.access import access_version
from registry.models import MonitorConfig
from registry.portal.views import version_url

NAMES = {"uri": "uri", "partition_column": "partition_column", "start": "start", "lag_days": "lag_days"}


class BatchSourceForm(forms.Form):
    uri = forms.CharField(
        label="Where the batches live",
        max_length=2000,
        help_text="A table on a declared connection, postgresql://warehouse/public.scores, or a folder of "
        "<column>=<date> Parquet folders, parquet:///srv/lake/scores (under DATA_SOURCE_ROOTS). No credentials: "
        "the operator declares connections.",
    )
    partition_column = forms.CharField(
        label="Date column", max_length=63, help_text="The table's date column, or the folders' key (date=...)."
    )
    start = forms.DateField(
        label="First day",
        help_text="The first day whose partition is read (YYYY-MM-DD). Keeping it (and the source) keeps the place "
        "reached; another day or source starts again there, skipping days already taken from the source.",
    )
    lag_days = forms.IntegerField(
        label="Read a day after (days)",
        min_value=1,
        initial=1,
        help_text="1: yesterday's partition is read today (UTC), by the scheduled sweep. At least 1: today's "
        "partition is still being written.",
        error_messages={"min_value": "At least 1: a day is read once it has ended, not while it is written."},
    )
    enabled = forms.BooleanField(label="Read on the schedule", required=False, initial=True)


@portal_view(GET="models:read", POST="models:write")
def monitoring_source(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Show where a version's batches are read from; POST sets it."""
    version = access_version(request.user, name, number, request)
    config = MonitorConfig.objects.filter(version=version).first()
    found = BatchSource.objects.filter(version=version).first()
    status, error = 200, ""
    if request.method == "POST":
        form = BatchSourceForm(request.POST)
        status, error = 400, "Please correct the problems marked below."
        if form.is_valid():
            given = dict(form.cleaned_data)
            given["start"] = given["start"].isoformat()  # as a client sends it
            serializer = BatchSourceSerializer(data=given)
            if not serializer.is_valid():
                for key, detail in serializer.errors.items():
                    for text in detail if isinstance(detail, list) else [detail]:
                        form.add_error(NAMES.get(key), in_labels(str(text), form, NAMES))
            else:
                try:
                    monitoring.do_configure_batch_source(
                        version=version,
                        user=portal_user(request),
                        actor=Actor.from_request(request),
                        **serializer.validated_data,
                    )
                except ActionError as exc:
                    _message, status = refusal(request, exc)
                    error = place_refusal(form, exc, NAMES)
                else:
                    messages.success(request, f"Batches of {version} are read from {form.cleaned_data['uri']}.")
                    return redirect(version_url(version) + "#monitoring")
    else:
        initial: dict[str, object] = {"lag_days": 1, "enabled": True}
        if found is not None:
            initial |= {
                "uri": found.uri,
                "partition_column": found.partition_column,
                "start": found.start or found.next_partition,
                "lag_days": found.lag_days,
                "enabled": found.enabled,
            }
        form = BatchSourceForm(initial=initial)
    context = {
        "version": version,
        "model": version.model,
        "form": form,
        "config": config,
        "source": found,
        "taken": monitoring_sources.taken_days(found) if found is not None else None,
        "error": error,
        "can_configure": may(request, "models:write"),
    }
    return render(request, "audits/monitoring_source.html", context, status=status)
