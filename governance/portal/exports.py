"""Portal pages of evidence exports and regulator sharing: create a bundle, share a model or a bundle with a
regulator until a date, revoke, and see every access a share gave (the trail's ``share.accessed`` events).

Everything goes through ``governance.exports.access`` and ``governance.exports.actions``, as the API does; the
bundle and PDF downloads are the API's own endpoints (the session signs them in).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone

from governance.access.actions import ActionError
from governance.access.models import User
from governance.access.roles import Role
from governance.exports import actions
from governance.exports.access import access_export, access_share, exports_visible_to, shares_visible_to
from governance.exports.events import SHARE_ACCESSED
from governance.exports.models import Export, ExportStatus, Share
from governance.portal.trail_names import name_accesses
from governance.trail.log import Actor
from governance.trail.models import Event
from governance.web.portal.access import may, portal_user, portal_view, refusal, set_choices
from governance.web.portal.pagination import paginate
from registry.access import access_model, models_visible_to


def _regulators() -> list[tuple[str, str]]:
    return list(
        User.objects.filter(role=Role.REGULATOR, is_active=True)
        .order_by("username")
        .values_list("username", "username")
    )


def _date(value: Any) -> Any:
    if value is not None and not 1900 <= value.year <= 9998:
        raise forms.ValidationError("Choose a date between the years 1900 and 9998.")
    return value


class ExportForm(forms.Form):
    model = forms.ChoiceField(label="Model")
    version = forms.IntegerField(label="Version (all when empty)", required=False, min_value=1, max_value=10**9)
    date_from = forms.DateField(
        label="Events from (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="Events to (UTC date)", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    recipient = forms.ChoiceField(label="For regulator", required=False)

    def __init__(self, *args: Any, models: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "model", [(m, m) for m in models])
        set_choices(self, "recipient", [("", "nobody in particular"), *_regulators()])

    def clean_date_from(self) -> Any:
        return _date(self.cleaned_data.get("date_from"))

    def clean_date_to(self) -> Any:
        return _date(self.cleaned_data.get("date_to"))


class ShareForm(forms.Form):
    regulator = forms.ChoiceField(label="Regulator")
    expires_on = forms.DateField(label="Until (UTC date, end of day)", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="Why it is shared", max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "regulator", _regulators())

    def clean_expires_on(self) -> Any:
        return _date(self.cleaned_data.get("expires_on"))

    def expires_at(self) -> dt.datetime:
        return dt.datetime.combine(self.cleaned_data["expires_on"], dt.time(23, 59, 59), tzinfo=dt.UTC)


class ModelShareForm(ShareForm):
    model = forms.ChoiceField(label="Model")

    def __init__(self, *args: Any, models: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        set_choices(self, "model", [(m, m) for m in models])


class RevokeForm(forms.Form):
    reason = forms.CharField(label="Why it is revoked", max_length=2000)


def _model_names(request: HttpRequest) -> list[str]:
    return list(models_visible_to(request.user).order_by("name").values_list("name", flat=True))


@portal_view(GET="exports:read", POST="exports:create")
def exports(request: HttpRequest) -> HttpResponse:
    """Evidence bundles the user may see; POST builds one (officers, administrators)."""
    form = ExportForm(request.POST or None, models=_model_names(request), auto_id="export_%s")
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            model = access_model(request.user, data["model"], request)
            version = None
            if data["version"]:
                version = model.versions.filter(number=data["version"]).first()
                if version is None:
                    form.add_error("version", f"{model.name} has no version {data['version']}.")
            recipient = User.objects.filter(username=data["recipient"]).first() if data["recipient"] else None
            if form.is_valid():
                try:
                    export = actions.do_create_export(
                        user=portal_user(request),
                        actor=Actor.from_request(request),
                        model=model,
                        version=version,
                        date_from=data["date_from"],
                        date_to=data["date_to"],
                        recipient=recipient,
                    )
                except ActionError as exc:
                    error, status = refusal(request, exc)
                else:
                    _say_how_it_went(request, export)
                    return redirect("portal:export-detail", pk=export.pk)
        if not error:
            status = 400
    page = paginate(request, exports_visible_to(request.user).order_by("-id"))
    context = {"page": page, "form": form, "error": error, "can_create": may(request, "exports:create")}
    return render(request, "exports/exports.html", context, status=status)


def _say_how_it_went(request: HttpRequest, export: Export) -> None:
    if export.status == ExportStatus.READY:
        messages.success(request, f"Evidence bundle #{export.pk} built and signed.")
    elif export.status == ExportStatus.ERROR:
        messages.error(request, f"Evidence bundle #{export.pk} could not be built: {export.error}")
    else:
        messages.info(request, f"Evidence bundle #{export.pk} is being built; this page shows its progress.")


def _accesses(shares: Any) -> Any:
    ids = [str(pk) for pk in shares.values_list("pk", flat=True)]
    return Event.objects.filter(action=SHARE_ACCESSED.name, object_type="governance.share", object_id__in=ids).order_by(
        "-seq"
    )


def _named(page: Any) -> Any:
    """The access log's rows with the regulator and the object by name (governance.portal.trail_names)."""
    name_accesses(page)
    return page


@portal_view(GET="exports:read", POST="exports:create")
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One bundle: its build's progress (live), what it holds, its download, its shares and every access they gave;
    POST shares it. ``?part=build`` answers only the build's fragment, which the page polls (htmx) while it builds."""
    if request.method == "GET" and request.GET.get("part") == "build":
        # The page recorded a regulator's access once; its polls (one a second) are not recorded again.
        export = get_object_or_404(exports_visible_to(request.user), pk=pk)
        return render(request, "exports/_build.html", {"export": export})
    export = access_export(request.user, pk, request)
    form = ShareForm(request.POST or None, auto_id="share_%s")
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            regulator, error, status = _create_share(request, form, export=export)
            if regulator is not None:
                messages.success(request, f"Shared with {regulator.username} until {form.cleaned_data['expires_on']}.")
                return redirect("portal:export-detail", pk=export.pk)
        else:
            status = 400
    shares = shares_visible_to(request.user).filter(export=export)
    context = {
        "export": export,
        "shares": shares,
        "accesses": _named(paginate(request, _accesses(shares), per_page=20))
        if may(request, "exports:create")
        else None,
        "form": form,
        "error": error,
        "can_share": may(request, "exports:create"),
    }
    return render(request, "exports/export_detail.html", context, status=status)


def _create_share(request: HttpRequest, form: Any, **target: Any) -> tuple[User | None, str, int]:
    """Share ``target`` (``model=`` or ``export=``) as the valid ``form`` says, through the API's own action: the
    regulator, or (None, the refusal in words, its status)."""
    regulator = User.objects.get(username=form.cleaned_data["regulator"])
    try:
        actions.do_create_share(
            user=portal_user(request),
            actor=Actor.from_request(request),
            regulator=regulator,
            expires_at=form.expires_at(),
            reason=form.cleaned_data["reason"],
            **target,
        )
    except ActionError as exc:
        error, status = refusal(request, exc)
        # The action names the API's fields ("expires_at must be in the future."): said under the form's own field,
        # in its words.
        api_field = getattr(exc, "field", "")
        if api_field in SHARE_FIELDS and SHARE_FIELDS[api_field][0] in form.fields:
            name, words = SHARE_FIELDS[api_field]
            form.add_error(name, error.replace(api_field, words, 1) if words else error)
            return None, "", status
        return None, error, status
    return regulator, "", 200


# The share action's fields (as the API names them) -> (the form's field, the words for it in a message; "" when the
# message needs none).
SHARE_FIELDS = {
    "expires_at": ("expires_on", "The date it is shared until"),
    "regulator": ("regulator", ""),
    "reason": ("reason", ""),
}


@portal_view(GET="exports:read", POST="exports:create")
def shares(request: HttpRequest) -> HttpResponse:
    """Shares: all of them (officers) or the ones made to you (regulators), with their expiry; POST shares a model."""
    form = ModelShareForm(request.POST or None, models=_model_names(request), auto_id="share_%s")
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            model = access_model(request.user, form.cleaned_data["model"], request)
            regulator, error, status = _create_share(request, form, model=model)
            if regulator is not None:
                messages.success(request, f"{model.name} shared with {regulator.username}.")
                return redirect("portal:shares")
        else:
            status = 400
    page = paginate(request, shares_visible_to(request.user).order_by("-id"))
    context = {
        "page": page,
        "form": form,
        "error": error,
        "now": timezone.now(),
        "can_share": may(request, "exports:create"),
        "max_days": settings.EXPORT_SHARE_MAX_DAYS,
    }
    return render(request, "exports/shares.html", context, status=status)


@portal_view(GET="exports:read", POST="exports:create")
def share_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One share: what and until when, every access it gave; POST revokes it."""
    share = access_share(request.user, pk, request)
    form = RevokeForm(request.POST or None)
    status, error = 200, ""
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_revoke_share(
                    share=share,
                    user=portal_user(request),
                    actor=Actor.from_request(request),
                    reason=form.cleaned_data["reason"],
                )
            except ActionError as exc:
                error, status = refusal(request, exc)
            else:
                messages.success(request, "Revoked: the regulator's next request is refused.")
                return redirect("portal:share-detail", pk=share.pk)
        else:
            status = 400
    accesses = _named(paginate(request, _accesses(Share.objects.filter(pk=share.pk)), per_page=20))
    context = {
        "share": share,
        "accesses": accesses,
        "form": form,
        "error": error,
        "now": timezone.now(),
        "can_revoke": may(request, "exports:create"),
    }
    return render(request, "exports/share_detail.html", context, status=status)
