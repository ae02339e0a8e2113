"""promptfoo's JSON output (``promptfoo eval -o results.json``): ``evalId``, ``results`` (output version 2 or 3:
``prompts``, ``results``, ``stats``), ``config`` and ``metadata.promptfooVersion``.

Each provider becomes a task with the metric ``pass_rate``: its test results as per-item outcomes (an item is a
test case and prompt, a hit when promptfoo marked it a success; an error counts as not passed). The file's own
``stats`` must agree with the tally, or the file is refused as inconsistent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from audits.evidence.formats.common import (
    EvidenceFormatError,
    ItemOutcome,
    Measurement,
    ParsedEvidence,
    count,
    mapping,
    optional_mapping,
    read_json_file,
)

TOOL = "promptfoo"


def looks_like(document: Any) -> bool:
    """Whether a JSON document is shaped like promptfoo's output."""
    results = document.get("results") if isinstance(document, dict) else None
    return isinstance(results, dict) and "evalId" in document and isinstance(results.get("results"), list)


def read(path: Path) -> ParsedEvidence:
    """A promptfoo JSON output file."""
    return parse(mapping(read_json_file(path, what="the promptfoo output"), what="promptfoo's output"))


def parse(document: dict[str, Any]) -> ParsedEvidence:
    if not looks_like(document):
        raise EvidenceFormatError("not promptfoo output: it needs 'evalId' and 'results.results' (a list)")
    body = document["results"]
    version = body.get("version")
    if version not in (2, 3):
        raise EvidenceFormatError(f"promptfoo output version {version!r} is not supported (2 or 3)")
    by_provider: dict[str, list[ItemOutcome]] = {}
    for index, raw in enumerate(body["results"]):
        result = mapping(raw, what=f"'results.results[{index}]'")
        success = result.get("success")
        if not isinstance(success, bool):
            raise EvidenceFormatError(f"'results.results[{index}].success' must be true or false, got {success!r}")
        provider = result.get("provider")
        provider_id = provider.get("id") if isinstance(provider, dict) else provider
        if not isinstance(provider_id, str) or not provider_id:
            raise EvidenceFormatError(f"'results.results[{index}].provider' must name the provider")
        item = f"test{result.get('testIdx', index)}/prompt{result.get('promptIdx', 0)}"
        by_provider.setdefault(provider_id, []).append(ItemOutcome(item=item, hit=success))
    stats = mapping(body.get("stats"), what="'results.stats'")
    passed = count(stats.get("successes"), what="'results.stats.successes'")
    total = passed + count(stats.get("failures"), what="'results.stats.failures'")
    total += count(stats.get("errors", 0), what="'results.stats.errors'")
    tallied = sum(len(items) for items in by_provider.values())
    hits = sum(o.hit for items in by_provider.values() for o in items)
    if (hits, tallied) != (passed, total):
        raise EvidenceFormatError(
            f"the results list {hits} passes of {tallied}, but 'results.stats' says {passed} of {total}"
        )
    metadata = optional_mapping(document.get("metadata"))
    config = optional_mapping(document.get("config"))
    measurements = [
        Measurement(
            task=provider,
            metric="pass_rate",
            value=sum(o.hit for o in items) / len(items),
            outcomes=items,
            higher_is_better=True,
        )
        for provider, items in sorted(by_provider.items())
    ]
    return ParsedEvidence(
        tool=TOOL,
        tool_version=str(metadata.get("promptfooVersion", "unknown")),
        format="promptfoo-json",
        measurements=measurements,
        summary={
            "eval_id": str(document.get("evalId"))[:100],
            "description": str(config.get("description", ""))[:200],
            "results": total,
        },
    )
