"""Which signer a version's risk tier requires (MODEL_SIGNING_REQUIRED_SIGNERS): asked by the approval gate and,
as a deployment check, by every deploy."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def signature_refusal(version: Any) -> str | None:
    """Why ``version`` does not carry a signature its tier requires (unsigned, or signed by someone else), or None."""
    tier = version.model.risk_tier
    required = settings.MODEL_SIGNING_REQUIRED_SIGNERS.get(tier, ())
    if not required or version.signed_by in required:
        return None
    wanted = " or ".join(f"'{signer}'" for signer in required)
    found = f"signed by '{version.signed_by}'" if version.signed_by else "unsigned"
    return (
        f"{version} is {tier}-risk, so its artifact must be signed by {wanted} (MODEL_SIGNING_REQUIRED_SIGNERS); "
        f"it is {found}."
    )
