"""The evidence imports' rungs of the permission ladder (tests/access/test_permission_ladder.py unpacks these):
a version's imported files are seen with the model (its team, the organisation-wide roles)."""

from __future__ import annotations

from typing import Any

from audits.evidence.actions import do_import_evidence
from governance.trail.log import Actor
from tests.evidence import files
from tests.ladder_rungs import CREDIT_RISK, Target, fresh_version


def _version(cast: Any) -> dict[str, Any]:
    version = fresh_version(cast, prefix="ladder-evidence", purpose="A model for the evidence rungs.")
    return {"name": version.model.name, "number": version.number}


def _imported(cast: Any) -> dict[str, Any]:
    """A fresh version with promptfoo's real output imported by its owner."""
    version = fresh_version(cast, prefix="ladder-evidence", purpose="A model for the evidence rungs.")
    owner = cast.owner.user
    item = do_import_evidence(
        version=version,
        user=owner,
        actor=Actor.for_user(owner),
        file_path=files.PROMPTFOO,
        file_name=files.PROMPTFOO.name,
    )
    return {"name": version.model.name, "number": version.number, "pk": item.pk}


OBJECTS: dict[str, Target] = {
    "registry-api:version-evidence": Target(_version, visible_to=CREDIT_RISK),
    "registry-api:version-evidence-detail": Target(_imported, visible_to=CREDIT_RISK),
}
