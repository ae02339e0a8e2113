"""Group confusion counts, computed once, and every rate and between-group summary derived from them.

One ``numpy.bincount`` over ``group * 4 + 2 * y_true + y_pred`` gives each group's true/false positives and negatives
(summed weights when there are sample weights). Every rate below is a ratio of those counts, so an audit over ten
million rows costs one pass over the data, where ``fairlearn.metrics.MetricFrame`` runs one scikit-learn call per
group and metric and aif360 one boolean mask per group and count. The numbers are the same: the tests prove each one
equal to fairlearn's and aif360's to 1e-9 on the German credit and Adult data.

Conventions (where the references differ, this module says which one it follows):

* Labels and predictions are binary, 0/1 or booleans, with 1 the favourable outcome (approved, hired). Anything
  else is refused with a ``ValueError`` that names the values found; so is NaN.
* An undefined rate (0/0, e.g. the true positive rate of a group with no positive labels) is NaN by default.
  aif360 agrees for the four error rates (TPR, FPR, FNR, TNR) but returns 0 for precision and accuracy;
  fairlearn (through scikit-learn's ``confusion_matrix(normalize="true")``) returns 0 for the four rates, and
  scikit-learn's ``precision_score`` returns 0 with a warning. A 0 there is not a measurement and would make a group
  with no positives look like the worst-treated group, so the default is NaN; pass ``zero_division=0.0`` to
  reproduce fairlearn's numbers exactly, including its summaries.
* Between-group summaries (``demographic_parity_difference`` and friends) follow fairlearn's
  ``method="between_groups"``: largest minus smallest group value, smallest over largest, skipping groups whose
  value is undefined (pandas' ``min``/``max`` skip NaN, and fairlearn relies on them).
* Pairwise summaries (``disparate_impact``, ``statistical_parity_difference``, ``average_odds_difference``) follow
  aif360: unprivileged minus (or over) privileged, each side possibly a union of groups.

The package is split by what each step computes, and everything is importable from ``audits.metrics.groups``:
``encoding`` (columns to group codes), ``counts`` (confusion counts per group), ``rates`` (rates from counts, and
the Wilson interval) and ``summaries`` (between-group and pairwise summaries, impact ratios, entropy indices).
"""

from audits.metrics.groups.counts import ConfusionCounts, GroupCounts, confusion_by_group
from audits.metrics.groups.encoding import (
    MISSING_LABEL,
    FloatArray,
    GroupIndex,
    GroupSelector,
    IntArray,
    encode_groups,
)
from audits.metrics.groups.rates import (
    GroupRates,
    accuracy,
    base_rate,
    false_negative_rate,
    false_positive_rate,
    precision,
    selection_rate,
    true_negative_rate,
    true_positive_rate,
    wilson_interval,
)
from audits.metrics.groups.summaries import (
    ImpactRatios,
    average_odds_difference,
    demographic_parity_difference,
    demographic_parity_ratio,
    disparate_impact,
    equal_opportunity_difference,
    equal_opportunity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    generalized_entropy_index,
    impact_ratios,
    statistical_parity_difference,
    theil_index,
)

__all__ = [
    "MISSING_LABEL",
    "ConfusionCounts",
    "FloatArray",
    "GroupCounts",
    "GroupIndex",
    "GroupRates",
    "GroupSelector",
    "ImpactRatios",
    "IntArray",
    "accuracy",
    "average_odds_difference",
    "base_rate",
    "confusion_by_group",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "disparate_impact",
    "encode_groups",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "false_negative_rate",
    "false_positive_rate",
    "generalized_entropy_index",
    "impact_ratios",
    "precision",
    "selection_rate",
    "statistical_parity_difference",
    "theil_index",
    "true_negative_rate",
    "true_positive_rate",
    "wilson_interval",
]
