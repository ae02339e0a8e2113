"""What was live when: replayed from the trail's events, so every answer can be proven with inclusion proofs."""

from __future__ import annotations

import datetime as dt
from typing import Any

from governance.access.models import User
from governance.trail.models import Event
from registry import events
from registry.models import RegisteredModel

_ACTIONS = (
    events.VERSION_DEPLOYED.name,
    events.VERSION_RETIRED.name,
    events.VERSION_APPROVAL_ADDED.name,
    events.VERSION_REJECTED.name,
)


def deployed_as_of(model: RegisteredModel, as_of: dt.datetime) -> dict[str, Any]:
    """For each environment, the version live at ``as_of``, who deployed it, and the approvals behind it."""
    rows = (
        Event.objects.filter(
            object_type="registry.modelversion",
            action__in=_ACTIONS,
            payload__model=model.name,
            recorded_at__lte=as_of,
        )
        .order_by("seq")
        .values("seq", "recorded_at", "action", "actor_user_id", "payload", "leaf_hash")
    )
    live: dict[str, dict[str, Any]] = {}
    approvals: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        payload, number = row["payload"], row["payload"]["version"]
        evidence = {"seq": row["seq"], "at": row["recorded_at"], "leaf_hash": bytes(row["leaf_hash"]).hex()}
        if row["action"] == events.VERSION_APPROVAL_ADDED.name:
            approvals.setdefault(number, []).append({"user_id": row["actor_user_id"], **evidence})
        elif row["action"] == events.VERSION_DEPLOYED.name:
            live[payload["environment"]] = {
                "version": number,
                "artifact_sha256": payload.get("artifact_sha256"),
                "deployed_by_user_id": row["actor_user_id"],
                "deployed": evidence,
            }
        elif row["action"] == events.VERSION_RETIRED.name and payload.get("replaced_by") is None:
            # A replacement's retirement commits together with the deployment that follows it (same
            # transaction): that deployed event replaces the entry, so there is no instant with nothing live.
            current = live.get(payload["environment"])
            if current and current["version"] == number:
                del live[payload["environment"]]
    names = _usernames(
        {a["user_id"] for items in approvals.values() for a in items}
        | {entry["deployed_by_user_id"] for entry in live.values()}
    )
    environments = {}
    for environment, entry in sorted(live.items()):
        entry["deployed_by"] = names.get(entry["deployed_by_user_id"])
        entry["approvals"] = [
            {**approval, "username": names.get(approval["user_id"])} for approval in approvals.get(entry["version"], [])
        ]
        environments[environment] = entry
    return {"model": model.name, "as_of": as_of, "environments": environments}


def _usernames(ids: set[int | None]) -> dict[int, str]:
    # Names are looked up now, outside the trail: the trail itself holds ids only.
    return dict(User.objects.filter(pk__in=[i for i in ids if i is not None]).values_list("pk", "username"))
