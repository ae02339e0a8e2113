"""Registry actions: every change to a model or version, with its rules, in one transaction with its event.

One module per aggregate: ``models`` (registering models, risk classification), ``versions`` (registering versions,
model cards), ``lifecycle`` (submit, approve, reject, deploy, retire, and why each is refused), ``findings``
(resolving them), ``webhooks`` (adding and removing them); ``common`` holds the refusal type, the state machine and
the helpers they share. This package re-exports every name its importers use, so ``from registry import actions``
keeps working.

The lifecycle is an explicit state machine (``TRANSITIONS``). Separation of duties lives here, not in the views,
so the API, the portal, the admin and management commands all obey it:

- only the owning team (owners) or a pipeline (CI) registers and submits versions;
- nobody approves or rejects a version they registered or submitted;
- approvals come from reviewers (of the model's team) or officers, each person once;
- high-risk models need two distinct approvers;
- only officers and admins deploy and retire, and only approved versions of non-prohibited models, when every
  registered deployment check (the audit engine's) passes.

Each transition locks the version row first and re-reads its state, so two concurrent transitions cannot both
succeed from the same state.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from governance.trail.log import record_event
from registry.actions import common, findings, lifecycle, models, versions, webhooks
from registry.actions.common import (
    APPROVERS,
    DEPLOYERS,
    DESCRIPTIVE_FIELDS,
    EDITABLE_CARD_STATES,
    SUBMITTERS,
    TRANSITIONS,
    RegistryError,
)
from registry.actions.findings import do_resolve_finding, resolve_refusal, retire_resolution_refusal
from registry.actions.lifecycle import (
    approval_refusal,
    deploy_refusal,
    do_approve,
    do_deploy,
    do_reject,
    do_retire,
    do_submit,
    retire_refusal,
    submit_refusal,
    transition_refusal,
)
from registry.actions.models import (
    RISK_RECLASSIFIED,
    do_change_risk,
    do_reclassify_stored_risk,
    do_register_model,
    do_update_model,
)
from registry.actions.versions import card_refusal, do_edit_model_card, do_register_version, store_artifact
from registry.actions.webhooks import do_add_webhook, do_remove_webhook
from registry.models import RegisteredModel

__all__ = [
    "APPROVERS",
    "DEPLOYERS",
    "DESCRIPTIVE_FIELDS",
    "EDITABLE_CARD_STATES",
    "RISK_RECLASSIFIED",
    "SUBMITTERS",
    "TRANSITIONS",
    "RegisteredModel",
    "RegistryError",
    "approval_refusal",
    "card_refusal",
    "deploy_refusal",
    "do_add_webhook",
    "do_approve",
    "do_change_risk",
    "do_deploy",
    "do_edit_model_card",
    "do_reclassify_stored_risk",
    "do_register_model",
    "do_register_version",
    "do_reject",
    "do_remove_webhook",
    "do_resolve_finding",
    "do_retire",
    "do_submit",
    "do_update_model",
    "record_event",
    "resolve_refusal",
    "retire_refusal",
    "retire_resolution_refusal",
    "store_artifact",
    "submit_refusal",
    "transition_refusal",
]

_SUBMODULES = (common, models, versions, lifecycle, findings, webhooks)


class _Package(types.ModuleType):
    """Setting a name on the package sets it in each submodule that holds it too, as it did when the actions were one
    module: a test's ``monkeypatch.setattr(registry.actions, "record_event", ...)`` reaches every action (and its
    undo restores every one). Drop this once callers patch the submodule they mean."""

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        for module in _SUBMODULES:
            if name in vars(module):
                setattr(module, name, value)


sys.modules[__name__].__class__ = _Package
