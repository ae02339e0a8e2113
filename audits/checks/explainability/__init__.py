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

The package follows those steps, and everything is importable from ``audits.checks.explainability``: ``budget``
(the time budget, the seeded sample and why the model is needed; the adversarial check uses them too),
``attribution`` (Kernel SHAP and the global importance), ``proxies`` (association, determination and the features
counted for protected attributes) and ``check`` (``ExplainabilityCheck``, named by the check registry).
"""

from audits.checks.explainability.attribution import (
    BACKGROUND_ROWS,
    EXTRA_COALITIONS,
    Attributions,
    importance_table,
    kernel_shap,
)
from audits.checks.explainability.budget import (
    DEFAULT_TIME_BUDGET_SECONDS,
    OutOfTime,
    TimeBudget,
    budget_settings,
    model_needed,
    seeded_rows,
)
from audits.checks.explainability.check import (
    DEFAULT_SAMPLE_ROWS,
    LOCAL_ROWS_REPORTED,
    MEASURE_NAMES,
    ExplainabilityCheck,
)
from audits.checks.explainability.proxies import (
    CATEGORICAL_MAX_VALUES,
    COMPARISON_OPERATORS,
    PERCENTILE_BINS,
    PROXY_MAX_RANK,
    PROXY_MEASURES,
    PROXY_MIN_CRAMERS_V,
    QUANTILE_BINS,
    ProxyRule,
    associations,
    categories,
    counted_features,
    determination,
    known_values,
    operator_of,
    proxy_rule,
    separating_intervals,
)

__all__ = [
    "BACKGROUND_ROWS",
    "CATEGORICAL_MAX_VALUES",
    "COMPARISON_OPERATORS",
    "DEFAULT_SAMPLE_ROWS",
    "DEFAULT_TIME_BUDGET_SECONDS",
    "EXTRA_COALITIONS",
    "LOCAL_ROWS_REPORTED",
    "MEASURE_NAMES",
    "PERCENTILE_BINS",
    "PROXY_MAX_RANK",
    "PROXY_MEASURES",
    "PROXY_MIN_CRAMERS_V",
    "QUANTILE_BINS",
    "Attributions",
    "ExplainabilityCheck",
    "OutOfTime",
    "ProxyRule",
    "TimeBudget",
    "associations",
    "budget_settings",
    "categories",
    "counted_features",
    "determination",
    "importance_table",
    "kernel_shap",
    "known_values",
    "model_needed",
    "operator_of",
    "proxy_rule",
    "seeded_rows",
    "separating_intervals",
]
