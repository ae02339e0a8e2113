"""Registry actions: every change to a model or version, with its rules, in one transaction with its event.

One module per aggregate: ``models`` (registering models, risk classification), ``versions`` (registering versions,
model cards), ``lifecycle`` (submit, approve, reject, deploy, retire, and why each is refused), ``findings``
(resolving them), ``webhooks`` (adding and removing them); ``common`` holds the refusal type, the state machine and
the helpers they share. This package re-exports the public API of its modules (the ``do_*`` actions, their
``*_refusal`` questions, the rules' tables and :class:`RegistryError`), so ``from registry import actions`` keeps
working; a test that replaces a name patches the module that uses it (``registry.actions.lifecycle``), not this package.

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

__all__ = [
    "APPROVERS",
    "DEPLOYERS",
    "DESCRIPTIVE_FIELDS",
    "EDITABLE_CARD_STATES",
    "RISK_RECLASSIFIED",
    "SUBMITTERS",
    "TRANSITIONS",
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
    "resolve_refusal",
    "retire_refusal",
    "retire_resolution_refusal",
    "store_artifact",
    "submit_refusal",
    "transition_refusal",
]
