"""The portal's sign-in and sign-out pages, and the two legs of a sign-in at the provider.

``start`` sends the browser to the provider (state, nonce, PKCE); ``callback`` takes the answer, and on a refusal
shows a page that says why instead of a bare redirect. ``SignInView`` is Django's password sign-in with the
provider's button beside it, or alone with ``SSO_ONLY``. ``sign_out`` ends the session here, then at the provider
when it publishes an ``end_session_endpoint`` (RP-initiated logout).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import LoginView
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.views.decorators.http import require_POST
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from governance.access.oidc import discovery
from governance.access.oidc.backend import SignInRefused, oidc_setting

logger = logging.getLogger("governance.sso")
_STATUS = {"no_role": 403, "inactive": 403, "name_taken": 409}


def refused(request: HttpRequest, refusal: SignInRefused) -> HttpResponse:
    """The page a refused sign-in shows: what happened, and (for no role) whom to ask. Logged for the operators."""
    logger.warning("single sign-on refused (%s): %s", refusal.code, refusal)
    context = {
        "refusal": refusal,
        "code": refusal.code,
        "provider": settings.OIDC_PROVIDER_NAME,
        "role_groups": [group for group, _ in settings.OIDC_ROLE_MAP],
    }
    return render(request, "oidc/refused.html", context, status=_STATUS.get(refusal.code, 400))


class StartView(OIDCAuthenticationRequestView):
    """Redirects to the provider's authorization endpoint (found by discovery when the request comes)."""

    get_settings = staticmethod(oidc_setting)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The library reads the endpoint here; Assay reads it per request, so a provider that is down gives a page.
        super(OIDCAuthenticationRequestView, self).__init__(*args, **kwargs)

    @property
    def OIDC_OP_AUTH_ENDPOINT(self) -> str | None:
        return oidc_setting("OIDC_OP_AUTHORIZATION_ENDPOINT")

    @property
    def OIDC_RP_CLIENT_ID(self) -> str:
        return str(settings.OIDC_RP_CLIENT_ID)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ISSUER:
            return refused(request, SignInRefused("off", "Single sign-on is not configured here."))
        try:
            return super().get(request)
        except discovery.DiscoveryError as exc:
            return refused(request, SignInRefused("unreachable", f"The identity provider cannot be reached: {exc}"))


class CallbackView(OIDCAuthenticationCallbackView):
    """The provider's answer: the library checks the state and runs the backend; refusals become a page."""

    get_settings = staticmethod(oidc_setting)

    def get(self, request: HttpRequest) -> HttpResponse:
        if not settings.OIDC_ISSUER:
            return refused(request, SignInRefused("off", "Single sign-on is not configured here."))
        # RFC 9207: a provider that names itself in the answer must be the one this sign-in went to (mix-up attack).
        if "iss" in request.GET and request.GET["iss"] != settings.OIDC_ISSUER:
            return refused(request, SignInRefused("issuer", "The answer comes from another provider than asked."))
        try:
            return super().get(request)
        except SuspiciousOperation:
            # The library raises this for a state that this session never sent, or already used.
            return refused(
                request,
                SignInRefused("state", "This sign-in answer does not belong to a sign-in started here (wrong state)."),
            )

    def login_failure(self) -> HttpResponse:
        refusal = getattr(self.request, "oidc_refusal", None)
        if refusal is None:
            error = self.request.GET.get("error")
            if error:
                refusal = SignInRefused("provider", f"The identity provider refused the sign-in ({error[:100]}).")
            else:
                refusal = SignInRefused("state", "This sign-in answer does not belong to a sign-in started here.")
        return refused(self.request, refusal)


class SignInView(LoginView):
    """Password sign-in (local accounts, break-glass) and the provider's button; with ``SSO_ONLY`` the button only."""

    template_name = "portal/login.html"
    redirect_authenticated_user = True

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["sso_provider"] = settings.OIDC_PROVIDER_NAME if settings.OIDC_ISSUER else ""
        context["password_sign_in"] = not settings.SSO_ONLY
        return context

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if settings.SSO_ONLY:
            response = self.render_to_response(self.get_context_data(sso_only_refused=True))
            response.status_code = 403
            return response
        return super().post(request, *args, **kwargs)


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the session; then, for a provider's sign-in, end it at the provider too when it offers that."""
    id_token = request.session.get("oidc_id_token")
    auth.logout(request)
    target = resolve_url(settings.LOGOUT_REDIRECT_URL)
    if id_token and settings.OIDC_ISSUER:
        try:
            end_session = discovery.endpoint("end_session_endpoint")
        except discovery.DiscoveryError:
            end_session = None  # signed out here; the provider's session ends with its own lifetime
        if end_session:
            query = urlencode(
                {
                    "id_token_hint": id_token,
                    "post_logout_redirect_uri": request.build_absolute_uri(target),
                    "client_id": settings.OIDC_RP_CLIENT_ID,
                }
            )
            return HttpResponseRedirect(f"{end_session}?{query}")
    return HttpResponseRedirect(target)
