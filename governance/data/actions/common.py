"""What every data-governance action shares: the error it raises, who may write, team membership and pseudonyms."""

from __future__ import annotations

from django.conf import settings

from governance.access.actions import ActionError, require_role
from governance.access.models import User
from governance.access.roles import Role
from governance.data import crypto

# Who writes datasets and lineage: the owning team's people and pipelines; administrators too (they run imports).
DATA_WRITERS = frozenset({Role.OWNER, Role.CI, Role.ADMIN})
# Consent and subject records are kept by compliance officers (and administrators).
CONSENT_KEEPERS = frozenset({Role.OFFICER, Role.ADMIN})


class DataError(ActionError):
    """A refused data-governance action (422 by default: the request names something that cannot be done)."""

    def __init__(self, message: str, *, code: str = "validation_failed", status: int = 422, field: str = "") -> None:
        super().__init__(message, code=code, status=status)
        self.field = field


def _require_role(user: User, roles: frozenset[str], what: str) -> None:
    require_role(user, roles, what, error=DataError)


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
