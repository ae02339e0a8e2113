"""The facts every surface shows about the groups an audit could not simply judge: rows in an unknown category,
groups excluded (LL144's 2% rule with the auditor's justification, or small groups a policy excludes), groups too
small to judge, and rates that are undefined (0/0). The gate's reasons, the PDF report and monitoring's live
fairness read them from :func:`group_facts`, so each says the same thing as the audit's results. Pure: no Django.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

GROUP_CHECKS = ("disparate_impact", "group_fairness")

# The statuses a group row may carry (audits.checks.disparate_impact and fairness), and the fact each one is.
_KIND_OF_STATUS = {
    "excluded_below_share": "excluded",
    "excluded_small_group": "excluded",
    "insufficient_small_group": "insufficient",
    "undefined": "undefined",
}


def group_facts(results: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The unknown, excluded, insufficient and undefined facts of an audit's group checks.

    Parameters
    ----------
    results
        A run's ``results`` JSON (with ``checks`` keyed by check name), or a mapping of check name to that check's
        results, or one check's results (a mapping with ``groupings``, such as monitoring's live fairness; its
        ``check`` key names it, else it is taken for ``disparate_impact``).

    Returns
    -------
    list of dict
        One fact per unknown category (per grouping), per excluded, small or undefined group, and per group whose
        rate leaves a fairness summary undefined, in the order of the results: ``{"check", "grouping", "kind"
        ("unknown", "excluded", "insufficient" or "undefined"), "group" (None for unknown rows), "count", "share"
        (of all rows for unknown, of known rows for a group; None when not known), "rate" (the group's selection
        rate, None when undefined or for unknown rows), "reason"}``.
    """
    facts: list[dict[str, Any]] = []
    for check, found in _checks(results):
        for grouping in found.get("groupings") or []:
            facts.extend(_grouping_facts(check, grouping))
    return facts


def _checks(results: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    if "groupings" in results:
        yield str(results.get("check") or "disparate_impact"), results
        return
    nested = results.get("checks")
    checks: Mapping[str, Any] = nested if isinstance(nested, Mapping) else results
    for name, found in checks.items():
        if isinstance(found, Mapping) and found.get("groupings") and isinstance(found["groupings"], list):
            yield str(name), found


def _grouping_facts(check: str, grouping: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    name = str(grouping.get("grouping", ""))
    unknown = grouping.get("unknown") or {}
    if unknown.get("count"):
        share = unknown.get("share")
        shown = f" ({share:.1%} of rows)" if isinstance(share, int | float) else ""
        yield {
            "check": check,
            "grouping": name,
            "kind": "unknown",
            "group": None,
            "count": int(unknown["count"]),
            "share": share,
            "rate": None,
            "reason": (
                f"{unknown['count']} rows{shown} have an unknown {name}: they are in no group, not compared and "
                "never the reference (6 RCNY 5-301)"
            ),
        }
    for row in grouping.get("groups") or []:
        kind = _KIND_OF_STATUS.get(str(row.get("status")))
        if kind is None:
            continue
        yield {
            "check": check,
            "grouping": name,
            "kind": kind,
            "group": row.get("group"),
            "count": int(row.get("count") or 0),
            "share": row.get("share"),
            "rate": row.get("selection_rate"),
            "reason": _reason(row, kind),
        }
    summary = grouping.get("summary") or {}
    undefined = sorted({g for key, groups in summary.items() if key.endswith("_undefined_groups") for g in groups})
    rows = {row.get("group"): row for row in grouping.get("groups") or []}
    for group in undefined:
        metrics = [
            key.removesuffix("_undefined_groups")
            for key, groups in summary.items()
            if key.endswith("_undefined_groups") and group in groups
        ]
        row = rows.get(group, {})
        yield {
            "check": check,
            "grouping": name,
            "kind": "undefined",
            "group": group,
            "count": int(row.get("count") or 0),
            "share": row.get("share"),
            "rate": row.get("selection_rate"),
            "reason": (
                f"{group}: a rate is undefined (0/0), so {', '.join(metrics)} cannot be judged on the other groups "
                "alone"
            ),
        }


def _reason(row: Mapping[str, Any], kind: str) -> str:
    group, count = row.get("group"), row.get("count")
    rate = row.get("selection_rate")
    shown = f", selection rate {rate:.3f}" if isinstance(rate, int | float) else ""
    status = row.get("status")
    if status == "excluded_below_share":
        return (
            f"{group} ({count} rows{shown}) is excluded from impact ratios as under the share threshold; "
            f"justification: {row.get('exclusion_justification', '')}"
        )
    if status == "excluded_small_group":
        return f"{group} ({count} rows{shown}) is below the minimum group size and excluded by the policy" + (
            f": {row['exclusion_justification']}" if row.get("exclusion_justification") else ""
        )
    if kind == "insufficient":
        return f"{group} ({count} rows{shown}) is below the minimum group size: not judged, insufficient evidence"
    return f"{group} ({count} rows): its rate or impact ratio is undefined (0/0, or a reference rate of 0)"
