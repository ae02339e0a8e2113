"""The evidence a reviewer approves over: for a version, its latest audit under each policy (the one the tier
requires first), its open findings, and the approval gate's would-be decision on deploying it.

The approvals inbox shows it per version; the version page shows it above the approve form. Approving a version
whose evidence is not clean (a latest audit that did not pass, an open finding, or a deployment the gate would
refuse, e.g. no audit under the required policy) needs an explicit acknowledgement naming each item and a reason;
the items go into the ``model_version.approval_added`` event's ``overrides``. Clean evidence approves in one
click. The audits are read through ``registry.hooks`` (the audit runs the user may see, the deployment checks), as
the registry reads everything of the audit engine's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from governance.access.models import User
from registry import hooks
from registry.models import Finding, FindingStatus, ModelVersion


@dataclass
class Evidence:
    """What stands for and against approving one version, as the user may see it."""

    required_policy: str  # the policy the tier requires (AUDIT_REQUIRED_POLICIES), or ""
    latest_runs: list[Any]  # the latest finished run under each policy, the required policy's first
    findings: list[Finding]  # open findings
    gate: list[str]  # why the gate would refuse deploying it now (empty: it would not)
    against: list[str] = field(default_factory=list)  # each item approving it would override, in words

    @property
    def clean(self) -> bool:
        return not self.against

    @property
    def required_run(self) -> Any:
        """The latest run under the required policy, or None."""
        first = self.latest_runs[0] if self.latest_runs else None
        if first is not None and first.policy_version.policy.name == self.required_policy:
            return first
        return None

    def overrides(self) -> dict[str, Any]:
        """What the trail records as overridden (ids, kinds and verdicts: no free text but the gate's reasons)."""
        return {
            "audits": [
                {"run": run.pk, "policy": run.policy_version.policy.name, "verdict": run.verdict}
                for run in self.latest_runs
                if run.verdict != "pass"
            ],
            "findings": [{"finding": f.pk, "kind": f.kind} for f in self.findings],
            "gate": list(self.gate),
        }

    def digest(self) -> str:
        """A fingerprint of what is overridden: an acknowledgement given for other evidence is not this one's."""
        canonical = json.dumps(self.overrides(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _latest_per_policy(user: User, version: ModelVersion, required: str) -> list[Any]:
    runs = (
        hooks.runs_visible_to(user)
        .filter(model_version=version, status="done")
        .select_related("policy_version__policy")
        .order_by("-finished_at", "-id")
    )
    latest: dict[str, Any] = {}
    for run in runs:
        latest.setdefault(run.policy_version.policy.name, run)
    return sorted(
        latest.values(), key=lambda r: (r.policy_version.policy.name != required, r.policy_version.policy.name)
    )


def evidence_for(user: User, version: ModelVersion) -> Evidence:
    """The evidence on ``version`` as ``user`` may see it (audits through their access; findings of a model they
    may see are theirs to see)."""
    required = settings.AUDIT_REQUIRED_POLICIES.get(version.model.risk_tier, "")
    runs = _latest_per_policy(user, version, required)
    findings = list(Finding.objects.filter(version=version, status=FindingStatus.OPEN).order_by("opened_at", "pk"))
    gate = hooks.deployment_blockers(version)
    against = [
        f"audit #{run.pk} under {run.policy_version.policy.name}: {run.get_verdict_display().lower()}"
        for run in runs
        if run.verdict != "pass"
    ]
    against += [f"finding #{f.pk} ({f.kind}) is open: {f.title}" for f in findings]
    against += [f"the gate would refuse deploying it: {reason}" for reason in gate]
    return Evidence(required_policy=required, latest_runs=runs, findings=findings, gate=gate, against=against)
