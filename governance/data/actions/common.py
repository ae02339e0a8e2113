"""What every data-governance action shares: the error it raises, the scope and team checks, and pseudonyms."""

from __future__ import annotations

from django.conf import settings

from governance.access.actions import ActionError, require_scope
from governance.access.models import User
from governance.access.roles import roles_with_scope
from governance.data import crypto

# Who may do what is the role-to-scope table's (``governance.access.roles``); the actions ask it through
# ``_require_scope``: "datasets:write" for datasets, versions and lineage (the owning team's people and pipelines,
# administrators), "consent:write" for purposes, consent and subjects (compliance officers, administrators).
# These names, read from that table, remain for callers that list the roles (the consent import, do_audit_file).
DATA_WRITERS = roles_with_scope("datasets:write")
CONSENT_KEEPERS = roles_with_scope("consent:write")


class DataError(ActionError):
    """A refused data-governance action (422 by default: the request names something that cannot be done)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _require_scope(user: User, scope: str, what: str) -> None:
    """The user's role holds ``scope`` in the role-to-scope table (else 403, naming the roles that do)."""
    require_scope(user, scope, what, error=DataError)


def _require_team(user: User, team_id: int | None) -> None:
    if not (user.is_organisation_wide or (team_id is not None and team_id in user.team_ids())):
        raise DataError("You are not in this dataset's team.", code="not_in_team", status=403)


def pseudonym_key() -> bytes:
    """The HMAC key for pseudonyms, from settings (never from the database)."""
    return settings.PSEUDONYM_KEY.encode("utf-8")


def pseudonym_of(external_id: str) -> str:
    """The pseudonym of an external subject id."""
    try:
        return crypto.pseudonym(external_id, key=pseudonym_key())
    except ValueError as exc:
        raise DataError(f"Invalid external id: {exc}.", field="external_id") from None
