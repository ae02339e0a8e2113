"""Data quality (EU AI Act Art. 10): the evaluation dataset's profile and its groups' representation.

- ``max_missing_fraction``: every column's missing fraction (from the upload profile) at most this;
- ``min_group_share``: every protected group at least this share of the rows;
- ``declared_population_shares`` (``{source, shares: {attribute: {group: share}}, max_abs_difference}``): each
  group's share in the data within ``max_abs_difference`` of the share declared for the population served.

No profile (an external dataset) or no threshold at all is insufficient evidence for a required check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold


class DataQualityCheck(Check):
    name = "data_quality"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        failures: list[str] = []
        unsure: list[str] = []
        judged = 0
        profile = dict(evaluation.profile or {})
        missing_limit = threshold(settings, "max_missing_fraction")
        missing = {name: entry.get("fraction") for name, entry in (profile.get("missing") or {}).items()}
        if missing_limit is not None:
            judged += 1
            _judge_missing(profile, missing, missing_limit, failures, unsure)
        shares: dict[str, dict[str, float]] = {}
        for attribute, column in evaluation.protected.items():
            values, counts = _counts(column)
            shares[attribute] = {value: count / evaluation.rows for value, count in zip(values, counts, strict=True)}
        share_min = threshold(settings, "min_group_share")
        if share_min is not None:
            judged += 1
            for attribute, groups in shares.items():
                for group, share in sorted(groups.items()):
                    if share < share_min:
                        failures.append(f"{attribute}={group} is {share:.1%} of the rows (at least {share_min:.1%})")
        population = settings.get("declared_population_shares") or {}
        gap_limit = threshold(population, "max_abs_difference")
        comparison = _compare_population(population, shares, failures, unsure)
        if population and gap_limit is not None:
            judged += 1
        details = {
            "missing_fraction": missing,
            "duplicate_rows": profile.get("duplicate_rows"),
            "label_balance": profile.get("label"),
            "group_shares": shares,
            "population_comparison": comparison,
            "thresholds": {
                key: {"value": threshold(settings, key), "basis": basis(settings, key)}
                for key in ("max_missing_fraction", "min_group_share")
                if threshold(settings, key) is not None
            },
            "population_source": population.get("source"),
            "max_abs_difference": gap_limit,
        }
        if failures:
            return self.outcome(FAIL, "; ".join(failures) + ".", **details)
        if unsure:
            return self.outcome(INSUFFICIENT, "; ".join(unsure) + ".", **details)
        if not judged:
            return self.outcome(PASS, "Reported only: the policy sets no data-quality threshold.", **details)
        return self.outcome(PASS, "The data meets every data-quality threshold.", **details)


def _counts(column: Any) -> tuple[list[str], list[int]]:
    import numpy as np

    values, counts = np.unique(column, return_counts=True)
    return [str(v) for v in values], [int(c) for c in counts]


def _compare_population(
    population: Mapping[str, Any], shares: dict[str, dict[str, float]], failures: list[str], unsure: list[str]
) -> list[dict[str, Any]]:
    """Each declared group's share in the data against its declared share in the population."""
    gap_limit = threshold(population, "max_abs_difference")
    comparison = []
    for attribute, groups in sorted((population.get("shares") or {}).items()):
        if attribute not in shares:
            unsure.append(f"a population share is declared for {attribute!r}, which is not a protected column")
            continue
        for group, expected in sorted(groups.items()):
            observed = shares[attribute].get(str(group), 0.0)
            comparison.append(
                {"attribute": attribute, "group": str(group), "declared": expected, "observed": finite(observed)}
            )
            if gap_limit is not None and abs(observed - float(expected)) > gap_limit:
                failures.append(
                    f"{attribute}={group} is {observed:.1%} of the data against {float(expected):.1%} of the "
                    f"population (at most {gap_limit:.1%} apart)"
                )
    return comparison


def _judge_missing(
    profile: Mapping[str, Any], missing: dict[str, Any], limit: float, failures: list[str], unsure: list[str]
) -> None:
    if not profile:
        unsure.append("the dataset has no profile (it was not uploaded to Assay), so missing values are unknown")
    for name, fraction in sorted(missing.items()):
        if fraction is not None and fraction > limit:
            failures.append(f"column {name!r} is {fraction:.1%} missing (at most {limit:.1%})")
