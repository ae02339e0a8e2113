"""The status page of a version's obligations: parse, check access (the registry's chokepoint), act, respond."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from governance.access.actions import ActionError
from governance.trail.log import Actor
from governance.web.portal.access import may, portal_user, portal_view
from obligations import actions
from obligations.actions import DECIDE_SCOPE
from obligations.portal.forms import DecisionForm
from obligations.status import compliance_status
from registry.access import access_version


@portal_view(GET="models:read", POST=DECIDE_SCOPE)
def version_obligations(request: HttpRequest, name: str, number: int) -> HttpResponse:
    """Every applicable obligation of the version with its status and evidence; officers record decisions here."""
    version = access_version(request.user, name, number, request)
    form = DecisionForm(auto_id="decision_%s")
    error = ""
    if request.method == "POST":
        form = DecisionForm(request.POST, auto_id="decision_%s")
        if form.is_valid():
            data = form.cleaned_data
            try:
                actions.do_decide(
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    version=version,
                    catalogue=data["catalogue"],
                    obligation=data["obligation"],
                    kind=data["decision"],
                    reason=data["reason"],
                    document_name=data["document_name"],
                    document_sha256=data["document_sha256"],
                )
            except ActionError as refused:
                error = str(refused)
            else:
                messages.success(request, f"Recorded: {data['catalogue']} {data['obligation']} {data['decision']}.")
                return redirect(reverse("obligations-portal:version-obligations", args=[name, number]))
        else:
            error = "The decision was not recorded: " + "; ".join(
                f"{field}: {' '.join(str(e) for e in errors)}" for field, errors in form.errors.items()
            )
    context = {
        "model": version.model,
        "version": version,
        "status": compliance_status(version),
        "can_decide": may(request, DECIDE_SCOPE),
        "form": form,
        "error": error,
    }
    return render(request, "obligations/status.html", context, status=422 if error else 200)
