"""The CI client sends its token only to the server it was told to ask: a queued decision's place in the trail is
asked for at a URL the client builds from the queue id, never at one taken from the answer's text."""

from __future__ import annotations

import argparse
import time
from typing import Any

import pytest

from audits.gate import client


@pytest.mark.parametrize(
    "offered",
    ["/api/v1/trail/proofs/inclusion?queued=5", "@evil.example/steal", ".evil.example/x", "//evil.example/x"],
)
def test_a_queued_decision_s_place_is_asked_of_the_named_server_only(
    offered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, str]] = []

    def get(url: str, token: str, timeout: float) -> tuple[int, dict[str, Any], str]:
        asked.append((url, token))
        return 200, {"leaf_index": 41}, ""

    monkeypatch.setattr(client, "_get", get)
    args = argparse.Namespace(url="https://assay.bank.example/", timeout=5.0)
    answer = {"decision_id": None, "trail": {"state": "queued", "queued": 5, "url": offered}}

    decision = client._decision_id(args, "secret-ci-token", answer, time.monotonic() + 5)

    assert decision == 41
    assert asked == [("https://assay.bank.example/api/v1/trail/proofs/inclusion?queued=5", "secret-ci-token")]
