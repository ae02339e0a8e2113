"""The demo models' model cards (the sections of Mitchell et al., 2019, ``registry.models.MODEL_CARD_SECTIONS``).

Written for the demo's real data and models (``seed_demo``); every figure in them is one the demo's audits or the
data's documentation (german.doc, SOURCES.md) gives.
"""

from __future__ import annotations

_DATA = (
    "UCI Statlog (German Credit Data), 1994, CC BY 4.0: 1000 consumer credit applications from a German bank, 700 "
    "good and 300 bad credit risks (german.doc), with an invented applicant id per row."
)

CREDIT_SCORING_V1 = {
    "model_details": "Logistic regression with balanced class weights on the seven numeric attributes of the "
    "application (age among them), standardised, exported to ONNX. Owner: the credit-risk team.",
    "intended_use": "Pre-screening of consumer loan applications; a credit officer decides on each application.",
    "factors": "Audited by age group (25 or under, over 25: the split used in fairness studies of this data) and by "
    "sex as derived from attribute 9 (personal status and sex), a convention whose coding the UCI notes say has "
    "errors.",
    "metrics": "Selection rate per group and the impact ratio against the most favoured group, with a two-proportion "
    "z-test (four-fifths rule, 29 CFR 1607.4(D)).",
    "evaluation_data": "german-credit v1, all 1000 applicants.",
    "training_data": f"german-credit v1. {_DATA}",
    "quantitative_analyses": "Four-fifths audit: 75 of the 190 applicants aged 25 or under are approved (0.39) "
    "against 502 of the 810 older ones (0.62), an impact ratio of 0.64, below 0.8 and significant: the audit fails.",
    "ethical_considerations": "Age is an input, and the model approves younger applicants at well under four fifths "
    "of the older applicants' rate. One applicant (DE-0042) withdrew consent to model training after the model was "
    "trained: an open finding.",
    "caveats_and_recommendations": "Do not approve: retrain without age, and without the applicant who withdrew "
    "consent (done in v2), then audit under the policy the high risk tier requires.",
}

CREDIT_SCORING_V2 = {
    "model_details": "Logistic regression without age: duration, credit amount and indicator columns for checking "
    "account, credit history and savings, standardised, exported to ONNX. Owner: the credit-risk team.",
    "intended_use": CREDIT_SCORING_V1["intended_use"],
    "factors": CREDIT_SCORING_V1["factors"],
    "metrics": "The checks of eu-ai-act-high-risk: data quality, performance, group fairness with confidence "
    "intervals, explainability (SHAP, proxies), adversarial robustness.",
    "evaluation_data": "german-credit v2, all 999 applicants (the rows it was trained on: the policy's interval widths "
    "need the 190 applicants aged 25 or under, too few in a held-out part).",
    "training_data": f"german-credit v2: v1 with indicator columns, without DE-0042 (lineage run from v1). {_DATA}",
    "quantitative_analyses": "Passes every check of eu-ai-act-high-risk for age group and sex; the figures are in "
    "its audit run and signed report.",
    "ethical_considerations": "Age is no longer an input; the explainability check finds no feature that stands in "
    "for a protected attribute. Numbers are in-sample, so they flatter the model.",
    "caveats_and_recommendations": "Re-audit on fresh applications before relying on the in-sample figures; monitor "
    "live fairness by age group once deployed.",
}

LOAN_PROVISIONING_V1 = {
    "model_details": "The credit-scoring v1 estimator, used for portfolio totals. Owner: the credit-risk team.",
    "intended_use": "Portfolio-level default estimates for IFRS 9 expected-credit-loss provisions, reviewed by "
    "finance.",
    "factors": "Monitored for drift per input feature and for live fairness by sex.",
    "metrics": "Population stability index and Kolmogorov-Smirnov per feature and for the decisions; impact ratio "
    "per group in each production batch.",
    "evaluation_data": "Production batches of 500 applications, compared with german-credit v1.",
    "training_data": f"german-credit v1. {_DATA}",
    "quantitative_analyses": "Batch 1 is ordinary; batch 2 (credit_amount up one standard deviation, female approvals "
    "halved) raises drift and live-fairness alerts, open as findings.",
    "ethical_considerations": "No decision about any applicant is taken with it (minimal risk); its inputs still "
    "include age.",
    "caveats_and_recommendations": "Not for decisions about individual applicants or customers.",
}
