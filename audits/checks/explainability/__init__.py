"""Explainability: SHAP attributions of the model's score, the weight they put on protected attributes, and the
features that stand in for a protected attribute (proxies).

- What is explained is the model's **score** for the favourable class, not its 0/1 decision (``structure``): the
  log-odds of the favourable class for a linear or tree-boosting classifier, the probability of the favourable class
  for a forest, a single tree or any other classifier that gives probabilities, a regressor's value; the decision
  only when the model gives no probabilities. The result states it (``explained_output``). Every explainer computes
  the Shapley values of the same game: v(S) is the mean, over 100 seeded background rows, of the score with the
  features in S taken from the explained row and the others from the background row (interventional SHAP). For
  each row the values add up to the row's score minus the background's mean score (local accuracy).
- The explainer follows from the model's own structure (``explainers``), and the result says which ran and why
  (``explainer``, ``explainer_note``): ``linear`` (an ONNX ``[Scaler] LinearClassifier|LinearRegressor`` graph, as
  skl2onnx writes a scaler + logistic regression, or a skops linear estimator: phi_j = w_j (x_j - background mean),
  exact, equal to shap's LinearExplainer); ``tree`` (skops or ONNX trees, forests and gradient boosting through
  shap's TreeExplainer, interventional, exact); ``exact`` (any other model with at most 10 inputs: every coalition is
  evaluated, equal to shap's ExactExplainer); ``kernel`` (the rest: shap's KernelExplainer with ``2 * features +
  512`` sampled coalitions per row; shap's own default is ``+ 2048``, and on German credit with 58 features the
  smaller number kept the same top features, correlation 0.997, at a quarter of the cost). A structure is used only
  after its score is seen to reproduce the loaded model's own probability (or value) on the evaluation's rows.
  ONNX tree ensembles (skl2onnx's binary ``TreeEnsembleClassifier`` and ``TreeEnsembleRegressor``) are read into
  shap's tree format (``onnx_trees``) and take the tree path too.
- Ranking: because the score, not the decision, is explained, a feature that moves scores far from the threshold
  counts even where it changes no decision, so importance ranks and shares differ from the decision-based values
  audits before this change reported. Demo credit-scoring v1 (500 rows of the high-risk policy): age has 20.7% of
  the attribution and rank 3 on the log-odds, against 19.9% and rank 2 on the decision (installment_rate moves from
  3 to 2, people_liable and residence_since swap 6 and 7); age still counts for age_group and the check still fails.
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
- Cost: ``sample_rows`` rows (seeded) are explained, in batches, until ``time_budget_seconds`` runs out; no model
  call starts after the deadline. The result says how many rows were explained. A run the budget cut short is
  insufficient evidence, never a pass.

The package follows those steps, and everything is importable from ``audits.checks.explainability``: ``budget``
(the time budget, the seeded sample and why the model is needed; the adversarial check uses them too),
``structure`` (the explained score, and the model's linear or tree structure read and checked), ``onnx_trees``
(an ONNX tree ensemble in shap's tree format), ``explainers``
(the choice of explainer and the linear, tree and exact explainers), ``attribution`` (what every explainer returns,
Kernel SHAP and the global importance), ``proxies`` (association, determination and the features
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
from audits.checks.explainability.explainers import (
    EXACT_MAX_FEATURES,
    Choice,
    choose,
    exact_shap,
    explain,
    linear_shap,
    shapley_weights,
    tree_shap,
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
from audits.checks.explainability.structure import Score, Structure, model_score, read_structure

__all__ = [
    "BACKGROUND_ROWS",
    "CATEGORICAL_MAX_VALUES",
    "COMPARISON_OPERATORS",
    "DEFAULT_SAMPLE_ROWS",
    "DEFAULT_TIME_BUDGET_SECONDS",
    "EXACT_MAX_FEATURES",
    "EXTRA_COALITIONS",
    "LOCAL_ROWS_REPORTED",
    "MEASURE_NAMES",
    "PERCENTILE_BINS",
    "PROXY_MAX_RANK",
    "PROXY_MEASURES",
    "PROXY_MIN_CRAMERS_V",
    "QUANTILE_BINS",
    "Attributions",
    "Choice",
    "ExplainabilityCheck",
    "OutOfTime",
    "ProxyRule",
    "Score",
    "Structure",
    "TimeBudget",
    "associations",
    "budget_settings",
    "categories",
    "choose",
    "counted_features",
    "determination",
    "exact_shap",
    "explain",
    "importance_table",
    "kernel_shap",
    "known_values",
    "linear_shap",
    "model_needed",
    "model_score",
    "operator_of",
    "proxy_rule",
    "read_structure",
    "seeded_rows",
    "separating_intervals",
    "shapley_weights",
    "tree_shap",
]
