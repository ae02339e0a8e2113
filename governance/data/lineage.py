"""Reading lineage: upstream and downstream of a dataset or model version, to any depth, and its PROV-JSON.

The graph is bipartite: runs read dataset versions (inputs) and write dataset or model versions (outputs).
Traversal goes level by level with two queries per level, so its cost grows with the lineage actually
reached, never with the size of the whole graph or of any dataset.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from governance.access.roles import Role
from governance.access.scoping import shared_model_ids
from governance.data.models import DatasetVersion, Direction, LineageLink, LineageRun
from governance.data.prov import prov_document

NodeKey = tuple[str, int]  # ("dataset_version" | "model_version", primary key)
DATASET = "dataset_version"
MODEL = "model_version"


@dataclass
class LineageGraph:
    """The part of the lineage graph reached from ``root``: nodes, runs and each run's inputs and outputs."""

    root: NodeKey
    direction: str
    nodes: dict[NodeKey, Any] = field(default_factory=dict)
    runs: dict[int, LineageRun] = field(default_factory=dict)
    inputs: dict[int, set[NodeKey]] = field(default_factory=dict)
    outputs: dict[int, set[NodeKey]] = field(default_factory=dict)
    depth_reached: int = 0

    def model_versions(self) -> list[Any]:
        """Every model version in the graph except the root."""
        return [obj for key, obj in self.nodes.items() if key[0] == MODEL and key != self.root]

    def dataset_versions(self) -> list[DatasetVersion]:
        """Every dataset version in the graph except the root."""
        return [obj for key, obj in self.nodes.items() if key[0] == DATASET and key != self.root]


def _key(link: LineageLink) -> NodeKey:
    if link.dataset_version_id is not None:
        return (DATASET, link.dataset_version_id)
    assert link.model_version_id is not None
    return (MODEL, link.model_version_id)


def _links(**lookup: Any) -> Iterable[LineageLink]:
    return LineageLink.objects.filter(**lookup).select_related(
        "run", "dataset_version__dataset__team", "model_version__model__team"
    )


def _remember(graph: LineageGraph, link: LineageLink) -> NodeKey:
    key = _key(link)
    graph.nodes.setdefault(key, link.dataset_version if key[0] == DATASET else link.model_version)
    graph.runs.setdefault(link.run_id, link.run)
    side = graph.inputs if link.direction == Direction.INPUT else graph.outputs
    side.setdefault(link.run_id, set()).add(key)
    return key


def _by_kind(keys: Iterable[NodeKey]) -> tuple[set[int], set[int]]:
    datasets = {pk for kind, pk in keys if kind == DATASET}
    models = {pk for kind, pk in keys if kind == MODEL}
    return datasets, models


def traverse(root: Any, *, direction: str, max_depth: int | None = None) -> LineageGraph:
    """The lineage reached from ``root`` (a DatasetVersion or registry ModelVersion) going ``direction``
    ("upstream": what it was made from; "downstream": what was made from it), ``max_depth`` runs deep (None: all).
    """
    if direction not in ("upstream", "downstream"):
        raise ValueError("direction must be 'upstream' or 'downstream'")
    root_key: NodeKey = (DATASET, root.pk) if isinstance(root, DatasetVersion) else (MODEL, root.pk)
    graph = LineageGraph(root=root_key, direction=direction)
    graph.nodes[root_key] = root
    frontier: set[NodeKey] = {root_key}
    seen_runs: set[int] = set()
    depth = 0
    # Runs are the hops; a run seen before is not followed again, which also ends any cycle.
    near, far = (Direction.OUTPUT, Direction.INPUT) if direction == "upstream" else (Direction.INPUT, Direction.OUTPUT)
    while frontier and (max_depth is None or depth < max_depth):
        datasets, models = _by_kind(frontier)
        run_ids: set[int] = set()
        for lookup in ({"dataset_version__in": datasets}, {"model_version__in": models}):
            if next(iter(lookup.values())):
                for link in _links(direction=near, **lookup):
                    if link.run_id not in seen_runs:
                        _remember(graph, link)
                        run_ids.add(link.run_id)
        if not run_ids:
            break
        seen_runs |= run_ids
        depth += 1
        frontier = set()
        for link in _links(run_id__in=run_ids):
            key = _remember(graph, link)
            if link.direction == far:
                frontier.add(key)
    graph.depth_reached = depth
    return graph


def downstream_model_versions(dataset_versions: Iterable[DatasetVersion]) -> dict[int, Any]:
    """Every model version downstream of any of ``dataset_versions`` (by pk), at any depth."""
    found: dict[int, Any] = {}
    for version in dataset_versions:
        for model_version in traverse(version, direction="downstream").model_versions():
            found[model_version.pk] = model_version
    return found


# --- presentation ----------------------------------------------------------------------------------------------


def node_id(obj: Any) -> str:
    """A stable, readable identifier: ``dataset:<name>/v<n>`` or ``model:<name>/v<n>``."""
    if isinstance(obj, DatasetVersion):
        return f"dataset:{obj.dataset.name}/v{obj.number}"
    return f"model:{obj.model.name}/v{obj.number}"


def describe_node(obj: Any) -> dict[str, Any]:
    """What the API shows of one node."""
    if isinstance(obj, DatasetVersion):
        return {
            "id": node_id(obj),
            "kind": DATASET,
            "dataset": obj.dataset.name,
            "version": obj.number,
            "sha256": obj.sha256 or None,
            "rows": obj.row_count,
            "location": obj.external_uri or (obj.file.name if obj.file else None),
        }
    return {
        "id": node_id(obj),
        "kind": MODEL,
        "model": obj.model.name,
        "version": obj.number,
        "artifact_sha256": obj.artifact_sha256 or None,
        "state": obj.state,
    }


def describe_run(run: LineageRun) -> dict[str, Any]:
    """What the API shows of one run (without its links)."""
    return {
        "run_id": str(run.run_id),
        "job": f"{run.job_namespace}/{run.job_name}",
        "code_ref": run.code_ref,
        "parameters": run.parameters,
        "state": run.state,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "ended_at": run.ended_at.isoformat() if run.ended_at else None,
        "source": run.source,
    }


def _team_id(obj: Any) -> int:
    return obj.dataset.team_id if isinstance(obj, DatasetVersion) else obj.model.team_id


def _visible(user: Any, obj: Any) -> bool:
    return bool(user.is_organisation_wide or _team_id(obj) in user.team_ids())


class _Sight:
    """What ``user`` may see of ``graph``: their teams' nodes and runs (all of them for organisation-wide roles).

    A regulator has no team: they see the versions of the models shared with them (an active share), the runs
    that produced those versions and the dataset versions those runs read (the training data a bundle documents
    too), and nothing further.
    """

    def __init__(self, user: Any, graph: LineageGraph) -> None:
        self.user = user
        self.regulator = getattr(user, "role", None) == Role.REGULATOR
        self.nodes: set[NodeKey] = set()
        self.runs: set[int] = set()
        if self.regulator:
            shared = set(shared_model_ids(user).values_list("model_id", flat=True))
            self.nodes = {key for key, obj in graph.nodes.items() if key[0] == MODEL and obj.model_id in shared}
            for run_id, outputs in graph.outputs.items():
                if outputs & self.nodes:
                    self.runs.add(run_id)
            for run_id in self.runs:
                self.nodes |= {key for key in graph.inputs.get(run_id, ()) if key[0] == DATASET}

    def node(self, key: NodeKey, obj: Any) -> bool:
        return key in self.nodes if self.regulator else _visible(self.user, obj)

    def run(self, run_id: int, run: LineageRun) -> bool:
        if self.regulator:
            return run_id in self.runs
        return bool(run.team_id is None or self.user.is_organisation_wide or run.team_id in self.user.team_ids())


def graph_as_json(graph: LineageGraph, *, user: Any) -> dict[str, Any]:
    """The graph for the API. Nodes of teams the caller cannot see are shown as hidden placeholders, so the shape
    of the lineage is honest without naming another team's datasets or models."""
    sight = _Sight(user, graph)
    names: dict[NodeKey, str] = {}
    nodes = []
    hidden = 0
    for key, obj in sorted(graph.nodes.items()):
        if sight.node(key, obj):
            names[key] = node_id(obj)
            nodes.append(describe_node(obj))
        else:
            hidden += 1
            names[key] = f"hidden:{hidden}"
            nodes.append({"id": names[key], "kind": key[0], "hidden": True})
    runs = []
    for run_id, run in sorted(graph.runs.items()):
        if sight.run(run_id, run):
            shown: dict[str, Any] = describe_run(run)
        else:
            shown = {"run_id": None, "hidden": True}
        shown["inputs"] = sorted(names[k] for k in graph.inputs.get(run_id, ()))
        shown["outputs"] = sorted(names[k] for k in graph.outputs.get(run_id, ()))
        runs.append(shown)
    return {
        "root": names[graph.root],
        "direction": graph.direction,
        "depth": graph.depth_reached,
        "nodes": nodes,
        "runs": runs,
    }


def prov_json(model_version: Any, *, user: Any, namespace_uri: str) -> dict[str, Any]:
    """The full upstream lineage of a model version as a W3C PROV-JSON document, as ``user`` may see it: nodes and
    runs of teams the user cannot see are present (the shape stays honest) but anonymous, as in the JSON graph."""
    graph = traverse(model_version, direction="upstream")
    sight = _Sight(user, graph)
    ids: dict[NodeKey, str] = {}
    entities = []
    hidden = 0
    for key, obj in sorted(graph.nodes.items()):
        if sight.node(key, obj):
            ids[key] = f"assay:{node_id(obj).replace(':', '/', 1)}"
            described = describe_node(obj)
            attributes = {k: v for k, v in described.items() if k not in ("id", "kind") and v is not None}
            label = described["id"].split(":", 1)[1]
        else:
            hidden += 1
            ids[key] = f"assay:hidden/{hidden}"
            attributes, label = {}, "not visible to you"
        entities.append({"id": ids[key], "type": key[0], "label": label, "attributes": attributes})
    activities, used, generated = [], [], []
    for run_id, run in sorted(graph.runs.items()):
        activity_id = f"assay:run/{run.run_id}"
        if sight.run(run_id, run):
            activity: dict[str, Any] = {
                "id": activity_id,
                "label": f"{run.job_namespace}/{run.job_name}",
                "startTime": run.started_at,
                "endTime": run.ended_at,
                "attributes": {k: v for k, v in {"code_ref": run.code_ref, "state": run.state}.items() if v},
            }
        else:
            activity = {"id": f"assay:hidden-run/{run_id}", "label": "not visible to you", "attributes": {}}
            activity_id = activity["id"]
        activities.append(activity)
        used += [(activity_id, ids[k]) for k in sorted(graph.inputs.get(run_id, ()))]
        generated += [(ids[k], activity_id) for k in sorted(graph.outputs.get(run_id, ()))]
    return prov_document(
        entities=entities, activities=activities, used=used, generated=generated, namespace_uri=namespace_uri
    )
