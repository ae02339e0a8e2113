"""Explainability: SHAP attributions of the model's decisions, the weight they put on protected attributes, and the
features that stand in for a protected attribute (proxies).

- The model is a black box here: Assay reaches it only through ``evaluation.predict`` (feature matrix to favourable
  decisions), so the tree and linear explainers, which need the fitted model object, cannot be chosen. Every model
  goes through shap's model-agnostic ``KernelExplainer`` on the favourable decision (0 or 1): the SHAP values are in
  units of "probability of a favourable decision" over a seeded background sample, and for each row they add up to
  the row's decision minus the background's favourable share (local accuracy). Each row costs ``2 * features + 512``
  coalitions (shap's own default is ``+ 2048``; measured on German credit with 58 features, the smaller number kept
  the same top features, with a correlation of 0.997 between the two importance vectors, at a quarter of the cost)
  times 100 background rows of model evaluations. With 9 features or fewer that covers every coalition, so the
  values are exact Shapley values of that game. (The PermutationExplainer was measured to spend 7-17 s compiling numba
  code on its first call in a process, which would eat most of a default time budget.)
- Global importance is the mean absolute SHAP value of each feature over the explained rows; a feature's share is
  that over the sum for all features, and its rank is 1 for the most important.
- A protected attribute is a model input when a feature has its column name. The share judged against
  ``protected_attribute_max_share`` is that of every feature counted for a protected attribute: the attribute's own
  column, a feature the column roles declare it is derived from (``derived_from``, always counted), and a feature
  that determines or nearly determines it, by the policy's ``proxy_measure`` at or above ``proxy_association_min``
  (both policy settings with a basis; without them only inputs and declared features count). Each feature counts
  once, and the result names every feature counted and why.
- Determination (``proxy_measure: cramers_v``): bias-corrected Cramér's V between the attribute (known rows only) and
  the feature's values when it has at most ten, else the feature cut into ``max(k + 1, 5)`` consecutive intervals
  (k: the attribute's categories) at the percentiles (or values, when it has at most 100) that best separate the
  attribute's categories (the largest chi-squared, found exactly by dynamic programming). A column binned from the
  feature at any cut points therefore scores 1, where the quintiles of the proxy flag below can miss the cut (age
  under 40 against age's quintiles: 0.86). The quintile partition is one of the candidates, so this value is never
  below the flag's; an independent feature stays near 0 (measured: under 0.2 at 1,000 rows).
- Proxies: each other feature's association with each protected attribute over all rows (bias-corrected Cramér's V
  and mutual information, from ``audits.metrics``; numeric features with more than ten values are cut into quintiles
  first). A feature is reported as a proxy when its Cramér's V is at least 0.3 and it ranks in the top five by
  importance: the model leans on it, and it carries the protected attribute.
- Cost: ``sample_rows`` rows (seeded) are explained one at a time until ``time_budget_seconds`` runs out; the model
  call that crosses the deadline is stopped. The result says how many rows were explained. A run the budget cut short
  is insufficient evidence, never a pass.
"""

from __future__ import annotations

import importlib.metadata
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audits.checks.base import FAIL, INSUFFICIENT, PASS, Check, CheckContext, CheckOutcome, basis, finite, threshold

DEFAULT_SAMPLE_ROWS = 100
DEFAULT_TIME_BUDGET_SECONDS = 30.0
BACKGROUND_ROWS = 100  # shap's advice: a background of about 100 rows; cost grows linearly with it
EXTRA_COALITIONS = 512  # coalitions per row beyond twice the number of features (see the module docstring)
LOCAL_ROWS_REPORTED = 10  # local explanations kept in the result (all explained rows feed the global importance)
PROXY_MIN_CRAMERS_V = 0.3  # a "moderate" association or stronger (Cohen's convention for one degree of freedom)
PROXY_MAX_RANK = 5
QUANTILE_BINS = 5
CATEGORICAL_MAX_VALUES = 10
# Determination of a protected attribute by a feature (the measures a policy's ``proxy_measure`` may name), and the
# candidate cut points of a numeric feature with many values: its percentiles (a cut inside one moves at most 1% of
# the rows, so a column binned from the feature still scores about 0.98 or more).
PROXY_MEASURES = ("cramers_v",)
PERCENTILE_BINS = 100
# The operator a threshold must meet to pass, from the policy's ``operator`` or its older ``comparison`` word.
COMPARISON_OPERATORS = {"min": ">=", "max": "<="}


def model_needed(evaluation: Any, *, consequence: str) -> str:
    """The reason a check that queries the model cannot run on ``evaluation``: where the audit's decisions came from
    instead, ``consequence`` (what cannot be done), and what would let the check run."""
    roles = evaluation.roles
    columns = [f"prediction column {roles.prediction!r}" if roles.prediction else ""]
    columns.append(f"score column {roles.score!r}" if roles.score else "")
    used = " and ".join(c for c in columns if c)
    if not used:
        no_model = "The check needs the model artifact: this audit has predictions only (no model to query)"
        return f"{no_model}, so {consequence}."
    reason = f"The check needs the model, and this audit used the dataset's {used} instead of it, so {consequence}."
    if evaluation.model_artifact is False:
        advice = "The version has no model artifact (predictions only): register one with its ONNX or skops artifact."
    elif evaluation.model_artifact:
        advice = "The version has a model artifact: leave prediction and score out of column_roles to audit the model."
    else:
        advice = "Leaving prediction and score out of column_roles audits the model itself (the version's artifact)."
    return f"{reason} {advice}"


class OutOfTime(Exception):
    """The check's time budget ran out; raised by a guarded model call so that a long library call stops."""


@dataclass
class TimeBudget:
    """Wall-clock seconds a check may use, counted from its creation."""

    seconds: float
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def expired(self) -> bool:
        return self.elapsed() >= self.seconds

    def guard(self, function: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], Any]:
        """``function``, refusing to start (raising OutOfTime) once the budget has run out."""

        def guarded(matrix: np.ndarray) -> Any:
            if self.expired():
                raise OutOfTime
            return function(matrix)

        return guarded


def seeded_rows(total: int, wanted: int, rng: np.random.Generator) -> np.ndarray:
    """``wanted`` distinct row indices out of ``total`` (all of them when there are fewer), in ascending order."""
    if wanted >= total:
        return np.arange(total)
    return np.sort(rng.choice(total, size=wanted, replace=False))


def budget_settings(settings: Mapping[str, Any], *, default_rows: int) -> tuple[int, float]:
    """The policy's ``sample_rows`` and ``time_budget_seconds``, or the defaults."""
    rows = int(settings.get("sample_rows") or default_rows)
    seconds = float(settings.get("time_budget_seconds") or DEFAULT_TIME_BUDGET_SECONDS)
    return rows, seconds


@dataclass
class Attributions:
    """SHAP values of the explained rows (those the time budget allowed, in sample order)."""

    rows: np.ndarray  # indices into the evaluation's rows
    values: np.ndarray  # (len(rows), features)
    decisions: np.ndarray  # the model's favourable decision (0/1) for each explained row
    base_value: float  # the background's favourable share, E f
    coalitions: int  # coalitions evaluated per row
    exact: bool  # every coalition was evaluated, so the values are exact Shapley values
    rows_sampled: int
    background_rows: int
    stopped_by_time_budget: bool


def kernel_shap(
    *,
    decide: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    background: np.ndarray,
    budget: TimeBudget,
    seed: int,
) -> Attributions:
    """Kernel SHAP values of ``decide`` (matrix to 0/1) for ``features[rows]``, one row at a time until ``budget``
    runs out.

    Parameters
    ----------
    decide
        The model's favourable decision for each row of a matrix, as 0.0 or 1.0.
    features
        The evaluation's feature matrix.
    rows
        The rows to explain, in order.
    background
        The rows standing in for "feature unknown" (shap's background data).
    budget
        The time budget; a model call past it raises OutOfTime and the row in progress is dropped.
    seed
        Seeds numpy's global generator (restored afterwards), which shap uses to sample coalitions.
    """
    import warnings

    with warnings.catch_warnings():  # shap's plotting module warns at import about matplotlib deprecations
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        import shap

    width = features.shape[1]
    coalitions = min(2 * width + EXTRA_COALITIONS, 2**width - 2) if width <= 30 else 2 * width + EXTRA_COALITIONS
    guarded = budget.guard(lambda matrix: np.asarray(decide(matrix), dtype=np.float64))
    explained: list[int] = []
    values: list[np.ndarray] = []
    stopped = False
    base_value = math.nan
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        # The explainer evaluates the model on the background once (the base value), then each row on its own.
        explainer = shap.KernelExplainer(guarded, background)
        base_value = float(np.ravel(explainer.expected_value)[0])
        for row in rows:
            row_values = explainer.shap_values(
                features[row : row + 1], silent=True, l1_reg=False, nsamples=max(coalitions, 1)
            )
            explained.append(int(row))
            values.append(np.asarray(row_values, dtype=np.float64).reshape(-1))
    except OutOfTime:
        stopped = True
    finally:
        np.random.set_state(state)
    index = np.asarray(explained, dtype=np.intp)
    decisions = np.asarray(decide(features[index]), dtype=np.float64) if len(index) else np.zeros(0)
    return Attributions(
        rows=index,
        values=np.vstack(values) if values else np.zeros((0, features.shape[1])),
        decisions=decisions,
        base_value=base_value,
        coalitions=coalitions,
        exact=width <= 30 and coalitions == 2**width - 2,
        rows_sampled=len(rows),
        background_rows=len(background),
        stopped_by_time_budget=stopped,
    )


def importance_table(values: np.ndarray, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Each feature's mean absolute SHAP value, share of the total and rank (1 = most important), by rank."""
    mean_abs = np.abs(values).mean(axis=0) if len(values) else np.zeros(len(names))
    total = float(mean_abs.sum())
    order = np.argsort(-mean_abs, kind="stable")
    return [
        {
            "feature": names[j],
            "mean_abs_shap": float(mean_abs[j]),
            "share": finite(mean_abs[j] / total) if total > 0 else None,
            "rank": rank,
        }
        for rank, j in enumerate(order, start=1)
    ]


def categories(column: np.ndarray) -> np.ndarray:
    """A numeric column as category codes: its values when there are at most ten, else its quintile (missing = -1)."""
    values = np.asarray(column, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    codes = np.full(len(values), -1, dtype=np.int64)
    if len(present) == 0:
        return codes
    distinct = np.unique(present)
    if len(distinct) <= CATEGORICAL_MAX_VALUES:
        codes[~missing] = np.searchsorted(distinct, present)
        return codes
    edges = np.unique(np.quantile(present, np.linspace(0, 1, QUANTILE_BINS + 1)[1:-1]))
    codes[~missing] = np.searchsorted(edges, present, side="right")
    return codes


def separating_intervals(column: np.ndarray, attribute: np.ndarray, *, intervals: int) -> np.ndarray:
    r"""A numeric column as interval codes (missing = -1): its values, or its percentiles when it has more than
    ``PERCENTILE_BINS`` values, grouped into at most ``intervals`` consecutive intervals, those whose contingency
    table with ``attribute`` has the largest chi-squared statistic.

    Parameters
    ----------
    column
        One number per row (NaN for missing).
    attribute
        One category per row (the protected attribute, known rows only), same length as ``column``.
    intervals
        The most intervals the cut may make.

    Notes
    -----
    With the attribute's category totals fixed, :math:`\chi^2/n + 1 = \sum_i \sum_j n_{ij}^2 / (n_i n_j)` is a sum
    over the intervals, so the best cut into ``intervals`` pieces is found exactly by dynamic programming over the
    candidate cut points (at most 100 of them: a few milliseconds).
    """
    values = np.asarray(column, dtype=np.float64)
    missing = np.isnan(values)
    present = values[~missing]
    codes = np.full(len(values), -1, dtype=np.int64)
    if len(present) == 0:
        return codes
    distinct, fine = np.unique(present, return_inverse=True)
    if len(distinct) > PERCENTILE_BINS:
        edges = np.unique(np.quantile(present, np.linspace(0, 1, PERCENTILE_BINS + 1)[1:-1]))
        fine = np.searchsorted(edges, present, side="right")
    bins = int(fine.max()) + 1
    if bins <= intervals:
        codes[~missing] = fine
        return codes
    labels, category = np.unique(np.asarray(attribute)[~missing], return_inverse=True)
    counts = np.zeros((bins, len(labels)))
    np.add.at(counts, (fine, category), 1.0)
    cumulative = np.vstack([np.zeros((1, len(labels))), np.cumsum(counts, axis=0)])  # rows 0..bins
    totals = cumulative.sum(axis=1)
    per_category = counts.sum(axis=0)
    # score[a, b]: the sum over categories of n_ij^2 / (n_i n_j) for the interval of fine bins a .. b-1.
    inside = cumulative[None, :, :] - cumulative[:, None, :]
    size = totals[None, :] - totals[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(size > 0, (inside**2 / per_category).sum(axis=2) / size, -np.inf)
    best = score[0]  # one interval covering bins 0 .. b-1
    choices = []
    for _ in range(intervals - 1):
        total = best[:, None] + score
        choice = np.argmax(total, axis=0)
        choices.append(choice)
        best = total[choice, np.arange(bins + 1)]
    cuts, end = [], bins
    for choice in reversed(choices):
        end = int(choice[end])
        cuts.append(end)
    codes[~missing] = np.searchsorted(np.asarray(sorted(cuts)), fine, side="right")
    return codes


def determination(column: np.ndarray, attribute: np.ndarray, *, measure: str) -> dict[str, Any]:
    """How far ``column`` (a feature) determines ``attribute`` (a protected attribute, known rows only), by
    ``measure`` (one of ``PROXY_MEASURES``): the value (None when undefined) and the categories compared."""
    from audits.metrics import cramers_v

    if measure not in PROXY_MEASURES:
        raise ValueError(f"proxy_measure {measure!r} is not one of {', '.join(PROXY_MEASURES)}.")
    present = np.asarray(column, dtype=np.float64)
    present = present[~np.isnan(present)]
    if len(np.unique(present)) <= CATEGORICAL_MAX_VALUES:
        codes, categorised = categories(column), "values"
    else:
        intervals = max(len(np.unique(attribute)) + 1, QUANTILE_BINS)
        codes, categorised = separating_intervals(column, attribute, intervals=intervals), "separating intervals"
    return {
        "measure": measure,
        "value": finite(cramers_v(attribute, codes, bias_correction=True)),
        "categorised_by": categorised,
        "categories": len(np.unique(codes)),
    }


def known_values(evaluation: Any, role: str) -> np.ndarray:
    """Whether each row's value of the protected attribute ``role`` is known (the evaluation's unknown mask when it
    has one, else: not empty)."""
    unknown = (getattr(evaluation, "unknown", None) or {}).get(role)
    if unknown is not None:
        return ~np.asarray(unknown, dtype=bool)
    values = np.asarray(evaluation.protected[role])
    return ~((values == "") | (values == None))  # noqa: E711 - elementwise: a None cell in an object column


def associations(
    *,
    features: np.ndarray,
    names: tuple[str, ...],
    protected: Mapping[str, np.ndarray],
    known: Mapping[str, np.ndarray] | None = None,
    skip: frozenset[str] | set[str] = frozenset(),
    measure: str | None = None,
) -> list[dict[str, Any]]:
    """Every (feature, protected attribute) pair's Cramér's V (bias-corrected) and mutual information (nats), over
    the rows where the attribute is known (``known``: a mask per attribute; all rows without it), for the features
    that are not themselves protected attributes (named in ``protected`` or ``skip``); with ``measure``, also how far
    the feature determines the attribute (``determination``)."""
    from audits.metrics import cramers_v, mutual_information

    found = []
    for j, name in enumerate(names):
        if name in protected or name in skip:
            continue
        for attribute, column in protected.items():
            rows = np.ones(len(column), dtype=bool) if known is None else np.asarray(known[attribute], dtype=bool)
            values, attribute_values = features[rows, j], np.asarray(column)[rows]
            codes = categories(values)
            pair: dict[str, Any] = {
                "feature": name,
                "attribute": attribute,
                "cramers_v": finite(cramers_v(attribute_values, codes, bias_correction=True)),
                "mutual_information": finite(mutual_information(attribute_values, codes)),
                "categories": len(np.unique(codes)),
            }
            if measure is not None:
                pair["determination"] = determination(values, attribute_values, measure=measure)
            found.append(pair)
    return found


@dataclass(frozen=True)
class ProxyRule:
    """The policy's rule for counting a feature as a protected attribute: ``measure`` meets ``operator`` ``value``."""

    measure: str
    value: float
    operator: str
    basis: dict[str, Any]

    def met(self, measured: float | None) -> bool:
        if measured is None:
            return False
        return measured >= self.value if self.operator == ">=" else measured > self.value


def operator_of(settings: Mapping[str, Any], key: str, default: str) -> str:
    """The operator a threshold's value must meet to pass (its ``operator``, or its ``comparison`` word)."""
    entry = settings.get(key)
    if not isinstance(entry, Mapping):
        return default
    return str(entry.get("operator") or COMPARISON_OPERATORS.get(entry.get("comparison", ""), default))


def proxy_rule(settings: Mapping[str, Any]) -> ProxyRule | None:
    """The policy's ``proxy_measure`` and ``proxy_association_min``, or None when it sets no cut-off."""
    value = threshold(settings, "proxy_association_min")
    if value is None:
        return None
    measure = settings.get("proxy_measure")
    if measure not in PROXY_MEASURES:
        raise ValueError(
            f"explainability: proxy_association_min needs proxy_measure, one of {', '.join(PROXY_MEASURES)}; "
            f"got {measure!r}."
        )
    operator = operator_of(settings, "proxy_association_min", ">=")
    if operator not in (">=", ">"):
        raise ValueError(f"explainability: proxy_association_min's operator must be '>=' or '>', not {operator!r}.")
    return ProxyRule(measure, value, operator, basis(settings, "proxy_association_min") or {})


def counted_features(
    *,
    columns: Mapping[str, str],
    derived_from: Mapping[str, tuple[str, ...]],
    pairs: list[dict[str, Any]],
    rule: ProxyRule | None,
    by_feature: Mapping[str, Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """The features whose attribution counts as a protected attribute's, each once (by importance rank), with every
    reason it counts: ``model_input`` (the attribute's own column), ``declared`` (the column roles' derived_from) or
    ``association`` (the rule's measure met, with its value)."""
    reasons: dict[str, list[dict[str, Any]]] = {}
    for role, column in columns.items():
        if column in by_feature:
            reasons.setdefault(column, []).append({"attribute": role, "why": "model_input"})
        for source in derived_from.get(role, ()):
            if source in by_feature:
                reasons.setdefault(source, []).append({"attribute": role, "why": "declared"})
    if rule is not None:
        for pair in pairs:
            measured = pair.get("determination", {}).get("value")
            if rule.met(measured):
                reasons.setdefault(pair["feature"], []).append(
                    {"attribute": pair["attribute"], "why": "association", "measure": rule.measure, "value": measured}
                )
    counted = [{**by_feature[feature], "because": because} for feature, because in reasons.items()]
    return sorted(counted, key=lambda entry: entry["rank"])


def _declared_sources(evaluation: Any, columns: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    """The column roles' ``derived_from`` keyed by protected role (the roles may name a role or its column)."""
    declared = getattr(evaluation.roles, "derived_from", None) or {}
    by_role: dict[str, tuple[str, ...]] = {}
    for role, column in columns.items():
        sources = [*declared.get(role, ()), *(declared.get(column, ()) if column != role else ())]
        if sources:
            by_role[role] = tuple(dict.fromkeys(sources))
    return by_role


def _thresholds_judged(settings: Mapping[str, Any], *, limit: float | None, rule: ProxyRule | None) -> dict[str, Any]:
    """The thresholds the policy sets for this check (only those it sets), with their operators and bases."""
    judged: dict[str, Any] = {}
    if limit is not None:
        operator = operator_of(settings, "protected_attribute_max_share", "<=")
        judged["protected_attribute_max_share"] = {
            "value": limit,
            "operator": operator,
            "basis": basis(settings, "protected_attribute_max_share"),
        }
    if rule is not None:
        judged["proxy_association_min"] = {"value": rule.value, "operator": rule.operator, "basis": rule.basis}
    return judged


def _describe_reason(reason: Mapping[str, Any]) -> str:
    if reason["why"] == "model_input":
        return f"is {reason['attribute']}"
    if reason["why"] == "declared":
        return f"{reason['attribute']} is derived from it (declared)"
    return f"{MEASURE_NAMES[reason['measure']]} {reason['value']:.2f} with {reason['attribute']}"


MEASURE_NAMES = {"cramers_v": "Cramér's V"}


class ExplainabilityCheck(Check):
    name = "explainability"

    def run(self, evaluation: Any, settings: Mapping[str, Any], context: CheckContext) -> CheckOutcome:
        sample_rows, seconds = budget_settings(settings, default_rows=DEFAULT_SAMPLE_ROWS)
        budget = TimeBudget(seconds)
        limit = threshold(settings, "protected_attribute_max_share")
        rule = proxy_rule(settings)
        if evaluation.predict is None or evaluation.features is None:
            reason = model_needed(evaluation, consequence="its decisions cannot be explained")
            return self.outcome(INSUFFICIENT, reason, rows=evaluation.rows)
        features = np.asarray(evaluation.features, dtype=np.float64)
        names = tuple(evaluation.feature_names)
        rng = np.random.default_rng(context.seed)
        rows = seeded_rows(len(features), sample_rows, rng)
        background = features[seeded_rows(len(features), BACKGROUND_ROWS, rng)]

        def decide(matrix: np.ndarray) -> np.ndarray:
            return np.asarray(evaluation.predict(matrix), dtype=np.float64)

        shap_values = kernel_shap(
            decide=decide, features=features, rows=rows, background=background, budget=budget, seed=context.seed
        )
        importance = importance_table(shap_values.values, names)
        by_feature = {entry["feature"]: entry for entry in importance}
        columns = dict(getattr(evaluation, "protected_columns", None) or {role: role for role in evaluation.protected})
        attributes = []
        for attribute in evaluation.protected:
            entry = by_feature.get(columns[attribute])
            if entry is None:
                attributes.append({"attribute": attribute, "model_input": False})
            else:
                attributes.append({"attribute": attribute, "model_input": True, **entry})
        explained = len(shap_values.rows)
        total = sum(e["mean_abs_shap"] for e in importance)
        pairs = associations(
            features=features,
            names=names,
            protected=evaluation.protected,
            known={role: known_values(evaluation, role) for role in evaluation.protected},
            skip=set(columns.values()),
            measure=rule.measure if rule is not None else None,
        )
        derived_from = _declared_sources(evaluation, columns)
        counted = counted_features(
            columns=columns, derived_from=derived_from, pairs=pairs, rule=rule, by_feature=by_feature
        )
        protected_share = sum(entry["mean_abs_shap"] for entry in counted) / total if total > 0 else None
        proxies = [
            {**pair, "rank": by_feature[pair["feature"]]["rank"], "share": by_feature[pair["feature"]]["share"]}
            for pair in pairs
            if (pair["cramers_v"] or 0.0) >= PROXY_MIN_CRAMERS_V
            and by_feature[pair["feature"]]["rank"] <= PROXY_MAX_RANK
            and by_feature[pair["feature"]]["mean_abs_shap"] > 0
        ]
        details: dict[str, Any] = {
            "explainer": "kernel",
            "library": f"shap {importlib.metadata.version('shap')}",
            "explainer_note": (
                "The model is reachable only as a black box (its decisions), so shap's model-agnostic KernelExplainer "
                "explains every model; tree and linear explainers need the fitted model object."
            ),
            "explained_output": "favourable decision (1) or not (0)",
            "rows": evaluation.rows,
            "coverage": {
                "rows_sampled": shap_values.rows_sampled,
                "rows_explained": explained,
                "background_rows": shap_values.background_rows,
                "coalitions_per_row": shap_values.coalitions,
                "exact_shapley_values": shap_values.exact,
                "time_budget_seconds": budget.seconds,
                "seconds": round(budget.elapsed(), 3),
                "stopped_by_time_budget": shap_values.stopped_by_time_budget,
                "seed": context.seed,
            },
            "base_value": finite(shap_values.base_value),
            "global_importance": importance,
            "protected_attributes": attributes,
            "protected_share": None if protected_share is None else finite(protected_share),
            "protected_attribute_max_share": limit,
            "basis": basis(settings, "protected_attribute_max_share"),
            "counted_features": counted,
            "derived_from": {role: list(sources) for role, sources in derived_from.items()},
            "declared_not_inputs": sorted(
                {source for sources in derived_from.values() for source in sources} - set(by_feature)
            ),
            "thresholds": _thresholds_judged(settings, limit=limit, rule=rule),
            "proxy_measure": None if rule is None else rule.measure,
            "proxies": proxies,
            "proxy_rule": {
                "min_cramers_v": PROXY_MIN_CRAMERS_V,
                "max_rank": PROXY_MAX_RANK,
                "quantile_bins": QUANTILE_BINS,
                "categorical_max_values": CATEGORICAL_MAX_VALUES,
            },
            "associations": pairs,
            "local_explanations": [
                {
                    "row": int(row),
                    "decision": float(decision),
                    "values": {name: float(v) for name, v in zip(names, row_values, strict=True)},
                }
                for row, decision, row_values in list(
                    zip(shap_values.rows, shap_values.decisions, shap_values.values, strict=True)
                )[:LOCAL_ROWS_REPORTED]
            ],
        }
        return self._judge(details, limit=limit, counted=counted, proxies=proxies)

    def _judge(
        self, details: dict[str, Any], *, limit: float | None, counted: list[dict[str, Any]], proxies: list[dict]
    ) -> CheckOutcome:
        coverage = details["coverage"]
        explained, sampled = coverage["rows_explained"], coverage["rows_sampled"]
        covered = f"Explained {explained} of {sampled} sampled rows in {coverage['seconds']:.1f} s"
        if explained == 0:
            return self.outcome(
                INSUFFICIENT,
                f"The time budget of {coverage['time_budget_seconds']:g} s ran out before any row was explained.",
                **details,
            )
        share = details["protected_share"]
        rule = details["thresholds"].get("proxy_association_min")
        if not counted:
            unmeasured = (
                ""
                if rule is None
                else f", and no feature reaches {MEASURE_NAMES[details['proxy_measure']]} {rule['operator']} "
                f"{rule['value']:g} with one"
            )
            measured = (
                "no feature counts for a protected attribute (none is a model input or declared as the source of "
                f"one{unmeasured}), so any influence comes through other features"
            )
        elif share is None:
            measured = "no feature changed a decision in the sample (every attribution is 0)"
        else:
            names = "; ".join(
                f"{entry['feature']}: " + ", ".join(_describe_reason(reason) for reason in entry["because"])
                for entry in counted
            )
            measured = f"the features counted for protected attributes ({names}) carry {share:.1%} of all attribution"
        notes = ""
        if rule is None:
            notes = (
                " Only model inputs and declared sources of protected attributes count: the policy sets no "
                "proxy_association_min."
            )
        if proxies:
            shown = "; ".join(
                f"{p['feature']} (rank {p['rank']}, Cramér's V {p['cramers_v']:.2f} with {p['attribute']})"
                for p in proxies
            )
            notes += f" Possible proxies for a protected attribute: {shown}."
        if explained < sampled:
            return self.outcome(
                INSUFFICIENT,
                f"{covered}: the time budget of {coverage['time_budget_seconds']:g} s ran out before the sample was "
                f"covered. In the rows explained, {measured}.{notes}",
                **details,
            )
        if limit is None:
            return self.outcome(
                PASS, f"Reported only (the policy sets no limit): {measured}. {covered}.{notes}", **details
            )
        operator = details["thresholds"]["protected_attribute_max_share"]["operator"]
        if share is not None and (share > limit if operator == "<=" else share >= limit):
            return self.outcome(
                FAIL, f"{_sentence(measured)}, above the limit of {limit * 100:g}%. {covered}.{notes}", **details
            )
        return self.outcome(PASS, f"{_sentence(measured)} (limit {limit * 100:g}%). {covered}.{notes}", **details)


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]
