"""The link from an identity at the provider to an Assay user."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ExternalIdentity(models.Model):
    """One provider subject (``iss`` + ``sub``, the only stable pair OpenID Connect promises) and its Assay user.

    Users are never matched by e-mail address or user name: a provider account that happens to carry an existing
    local user's address must not sign in as that user.
    """

    issuer = models.CharField(max_length=300)
    subject = models.CharField(max_length=255)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="external_identity")
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique_subject")]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
