"""Trail events for people: the actor, the token and the object of each event by name, with a link, resolved when
a page is shown (a few queries per page, one per kind of object).

Presentation only: the leaves keep their ids and nothing is written. A person is shown by display name and username;
a token by its name; a model version as ``credit-scoring v1``, linked to its page. Data subjects and their records
are never resolved (a pseudonym is personal data, and an erased subject stays erased): they keep the leaf's words.
An object that no longer exists keeps them too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from audits.models import AuditRun, Policy, PolicyVersion
from governance.access.models import ApiToken, Team, User
from governance.data.models import Dataset, DatasetVersion
from governance.exports.models import Export, Share
from governance.trail.leaf import SignedEvent
from registry.models import (
    Deployment,
    Finding,
    ModelVersion,
    MonitorConfig,
    MonitoringBatch,
    RegisteredModel,
    Review,
)


@dataclass(frozen=True)
class Named:
    """What a page shows for an id: words, and a link when the thing has a page."""

    text: str
    url: str = ""


@dataclass(frozen=True)
class ReadableEvent:
    event: SignedEvent
    actor: Named
    token: Named | None
    object: Named | None


def person_name(user: User) -> str:
    """``Display Name (username)``, or the username alone when no name is set."""
    full = user.get_full_name().strip()
    return f"{full} ({user.username})" if full else user.username


def _version_url(model: str, number: int, anchor: str = "") -> str:
    return reverse("registry-portal:version-detail", args=[model, number]) + anchor


def _versioned(version: ModelVersion) -> str:
    return f"{version.model.name} v{version.number}"


def _models(ids: list[int]) -> dict[int, Named]:
    return {
        m.pk: Named(m.name, reverse("registry-portal:model-detail", args=[m.name]))
        for m in RegisteredModel.objects.filter(pk__in=ids).only("name")
    }


def _versions(ids: list[int]) -> dict[int, Named]:
    found = ModelVersion.objects.filter(pk__in=ids).select_related("model").only("number", "model__name")
    return {v.pk: Named(_versioned(v), _version_url(v.model.name, v.number)) for v in found}


def _of_version(model: Any, words: Callable[[Any], str], anchor: Callable[[Any], str]) -> Callable:
    """A resolver for objects that belong to a model version (findings, batches, reviews, deployments)."""

    def resolve(ids: list[int]) -> dict[int, Named]:
        found = model.objects.filter(pk__in=ids).select_related("version__model")
        return {
            o.pk: Named(
                f"{words(o)} of {_versioned(o.version)}",
                _version_url(o.version.model.name, o.version.number, anchor(o)),
            )
            for o in found
        }

    return resolve


def _runs(ids: list[int]) -> dict[int, Named]:
    found = AuditRun.objects.filter(pk__in=ids).select_related("model_version__model")
    return {
        r.pk: Named(f"audit #{r.pk} of {_versioned(r.model_version)}", reverse("audits-portal:run-detail", args=[r.pk]))
        for r in found
    }


def _datasets(ids: list[int]) -> dict[int, Named]:
    return {
        d.pk: Named(d.name, reverse("portal:dataset-detail", args=[d.name]))
        for d in Dataset.objects.filter(pk__in=ids).only("name")
    }


def _dataset_versions(ids: list[int]) -> dict[int, Named]:
    found = DatasetVersion.objects.filter(pk__in=ids).select_related("dataset").only("number", "dataset__name")
    return {
        v.pk: Named(f"{v.dataset.name}/v{v.number}", reverse("portal:dataset-version", args=[v.dataset.name, v.number]))
        for v in found
    }


def _users(ids: list[int]) -> dict[int, Named]:
    """People by name, each linked to the trail filtered by them."""
    trail = reverse("portal:trail-events")
    return {
        u.pk: Named(person_name(u), f"{trail}?{urlencode({'actor': u.username})}")
        for u in User.objects.filter(pk__in=ids).only("first_name", "last_name", "username")
    }


def _tokens(ids: list[int]) -> dict[int, Named]:
    found = ApiToken.objects.filter(pk__in=ids).select_related("user")
    return {t.pk: Named(f"token “{t.name or t.hint}” of {t.user.username}") for t in found}


def _simple(model: Any, words: Callable[[Any], str], url: Callable[[Any], str] | None = None) -> Callable:
    def resolve(ids: list[int]) -> dict[int, Named]:
        return {o.pk: Named(words(o), url(o) if url else "") for o in model.objects.filter(pk__in=ids)}

    return resolve


# Object type (the leaf's ``target.type``, a model's label) -> resolver of ids. Types not listed (data subjects,
# their records, consent events, requests) keep the leaf's words.
RESOLVERS: dict[str, Callable[[list[int]], dict[int, Named]]] = {
    "registry.registeredmodel": _models,
    "registry.modelversion": _versions,
    "registry.finding": _of_version(Finding, lambda f: f"finding #{f.pk}", lambda f: f"#finding-{f.pk}"),
    "registry.monitoringbatch": _of_version(MonitoringBatch, lambda b: f"batch {b.number}", lambda b: "#monitoring"),
    "registry.monitorconfig": _of_version(MonitorConfig, lambda c: "monitoring", lambda c: "#monitoring"),
    "registry.review": _of_version(Review, lambda r: f"{r.decision} review", lambda r: ""),
    "registry.deployment": _of_version(Deployment, lambda d: f"deployment to {d.environment}", lambda d: ""),
    "audits.auditrun": _runs,
    "audits.policy": _simple(Policy, lambda p: f"policy {p.name}"),
    "audits.policyversion": _simple(PolicyVersion, lambda v: f"policy version {v.number} (#{v.pk})"),
    "governance.dataset": _datasets,
    "governance.datasetversion": _dataset_versions,
    "governance.user": _users,
    "governance.apitoken": _tokens,
    "governance.team": _simple(Team, lambda t: f"team {t.name}"),
    "governance.export": _simple(
        Export, lambda e: f"export #{e.pk}", lambda e: reverse("portal:export-detail", args=[e.pk])
    ),
    "governance.share": _simple(
        Share, lambda s: f"share #{s.pk}", lambda s: reverse("portal:share-detail", args=[s.pk])
    ),
}


def _ints(values: Iterable[Any]) -> list[int]:
    return sorted({int(v) for v in values if str(v).isascii() and str(v).isdigit() and len(str(v)) < 19})


def readable(events: Sequence[SignedEvent]) -> list[ReadableEvent]:
    """Each event with its actor, token and object by name (one query per kind of thing on the page)."""
    people = _users(_ints(e.actor_user_id for e in events if e.actor_user_id is not None))
    tokens = _tokens(_ints(e.actor_token_id for e in events if e.actor_token_id is not None))
    by_type: dict[str, list[str]] = {}
    for e in events:
        if e.object_type in RESOLVERS and e.object_id:
            by_type.setdefault(e.object_type, []).append(e.object_id)
    objects = {kind: RESOLVERS[kind](_ints(ids)) for kind, ids in by_type.items()}
    rows = []
    for e in events:
        if e.actor_user_id is not None:
            actor = people.get(e.actor_user_id, Named(f"user {e.actor_user_id} (no longer exists)"))
        else:
            actor = Named(e.actor_kind or "–")
        token = None
        if e.actor_token_id is not None:
            token = tokens.get(e.actor_token_id, Named(f"token {e.actor_token_id}"))
        found = None
        if e.object_type:
            number = _int_or_none(e.object_id)
            found = objects.get(e.object_type, {}).get(number) if number is not None else None
            found = found or Named(f"{e.object_type} {e.object_id}".strip())
        rows.append(ReadableEvent(event=e, actor=actor, token=token, object=found))
    return rows


def _int_or_none(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


def name_accesses(events: Iterable[Any]) -> None:
    """A share's access log for people: each ``share.accessed`` event (a trail row) gets ``who`` (the regulator by
    name) and ``what`` (the object opened, by name and link), read at display time like the trail's own rows."""
    rows = list(events)
    people = _users(_ints(e.actor_user_id for e in rows if e.actor_user_id is not None))
    by_type: dict[str, list[str]] = {}
    for e in rows:
        kind, ident = str(e.payload.get("object_type") or ""), str(e.payload.get("object_id") or "")
        if kind in RESOLVERS and ident:
            by_type.setdefault(kind, []).append(ident)
    objects = {kind: RESOLVERS[kind](_ints(ids)) for kind, ids in by_type.items()}
    for e in rows:
        kind, ident = str(e.payload.get("object_type") or ""), str(e.payload.get("object_id") or "")
        number = _int_or_none(ident)
        e.who = people.get(e.actor_user_id) or Named(f"user {e.actor_user_id}" if e.actor_user_id else "–")
        e.what = (objects.get(kind, {}).get(number) if number is not None else None) or Named(f"{kind} {ident}".strip())
