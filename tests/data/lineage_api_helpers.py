"""Helpers shared by the lineage HTTP API tests (test_lineage_api.py, test_lineage_openlineage_api.py): the URLs,
the lineage queries of dataset and model versions, and the node ids of a graph.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Member
from tests.data.conftest import API


def model_lineage(member: Member, name: str, number: int, **params: Any) -> Any:
    return member.client().get(f"{API}/models/{name}/versions/{number}/lineage", params)


def node_ids(graph: dict[str, Any]) -> list[str]:
    return sorted(node["id"] for node in graph["nodes"])
