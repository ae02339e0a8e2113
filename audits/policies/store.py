"""The one lookup of a stored policy version by name (and number), for every entry point: the API, the portal, the
gate, monitoring, the deploy check, ``manage.py run_audit``.

The package's other modules are pure (text in, plain values out); this one reads the policy store, so
``audits.policies`` loads it only when ``resolve`` or ``PolicyNotFound`` is first asked for.
"""

from __future__ import annotations

from audits.actions import ensure_builtin_policies
from audits.models import Policy, PolicyVersion


class PolicyNotFound(LookupError):
    """No stored policy of that name, or no such version of it. ``field`` names what was wrong: ``policy`` or
    ``policy_version`` (as the API's request fields are named)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def resolve(name: str, version: int | None = None, *, install: bool = True) -> PolicyVersion:
    """The version ``version`` of the policy named ``name``, else its latest version, with its policy attached.

    With ``install``, a built-in policy not stored yet (``install_policies`` never ran) is stored first. Raises
    :class:`PolicyNotFound` naming the known policies, or the policy that has no such version."""
    found = _find(name, version)
    if found is None and install and not Policy.objects.filter(name=name).exists():
        ensure_builtin_policies(only=name)
        found = _find(name, version)
    if found is not None:
        return found
    if not Policy.objects.filter(name=name).exists():
        known = ", ".join(Policy.objects.order_by("name").values_list("name", flat=True)) or "none"
        raise PolicyNotFound(f"Unknown policy {name!r}. Policies: {known}.", field="policy")
    if version is None:
        raise PolicyNotFound(f"{name} has no version yet.", field="policy_version")
    raise PolicyNotFound(f"{name} has no version {version}.", field="policy_version")


def _find(name: str, version: int | None) -> PolicyVersion | None:
    versions = PolicyVersion.objects.select_related("policy").filter(policy__name=name)
    if version is not None:
        return versions.filter(number=version).first()
    return versions.order_by("-number").first()
