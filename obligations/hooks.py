"""The deployment gate's obligations check, registered into the registry's ``DEPLOYMENT_CHECKS`` at start-up.

``OBLIGATIONS_REQUIRED_FOR_DEPLOY`` (settings) names, per risk tier, the catalogues in which no applicable
obligation may be missing when a version deploys: met, attested or declared not applicable by an officer all let it
through. A tier left out deploys as before. The check runs inside the deploy action's transaction.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from obligations.status import compliance_status
from registry.hooks import DEPLOYMENT_CHECKS

SHOWN = 5  # missing obligations named in the refusal; the status page lists them all


def missing_obligations_blocker(version: Any) -> str | None:
    """Why ``version`` may not deploy (obligations missing in its tier's required catalogues), or None."""
    required = tuple(settings.OBLIGATIONS_REQUIRED_FOR_DEPLOY.get(version.model.risk_tier, ()))
    if not required:
        return None
    status = compliance_status(version, catalogues=required)
    missing = [
        f"{catalogue['name']}/{line['id']}"
        for catalogue in status["catalogues"]
        for line in catalogue["obligations"]
        if line["status"] == "missing"
    ]
    absent = sorted(set(required) - {c["name"] for c in status["catalogues"]})
    if absent:
        tier = version.model.risk_tier
        return f"The obligation catalogues {', '.join(absent)} required for a {tier}-risk version do not exist."
    if not missing:
        return None
    more = f" and {len(missing) - SHOWN} more" if len(missing) > SHOWN else ""
    return (
        f"{len(missing)} obligations are missing for a {version.model.risk_tier}-risk version: "
        f"{', '.join(missing[:SHOWN])}{more} (see the version's obligations page)."
    )


if missing_obligations_blocker not in DEPLOYMENT_CHECKS:
    DEPLOYMENT_CHECKS.append(missing_obligations_blocker)
