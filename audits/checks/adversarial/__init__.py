"""Adversarial robustness: an evasion attack (exact where the model's structure is read, black-box otherwise),
random noise of the same size, and a counterfactual flip test on the protected attributes.

- Perturbations are measured in each feature's standard deviation over the evaluation rows, with the L-infinity norm:
  epsilon 0.1 allows every feature to move by at most a tenth of its standard deviation. Features that are constant in
  the data (or have missing values) are left alone, and every perturbed value stays within the range the data shows
  (the attack's clip values).
- Which attack runs (``structural.plan_attack``; the result says which, ``attack.name``, and why,
  ``attack.attack_reason``): when the model's structure is read (``audits.checks.explainability.structure``: the
  same reading, checked against the model's own outputs, that the explainability check uses) and the model's
  decisions are that score above one threshold on the evaluation's rows, the attack is exact: ``linear_exact`` for a
  linear score (the corner of the epsilon box moves the score furthest; closed form, ``structural``) and
  ``tree_exact`` for a tree ensemble (Kantchelian's mixed-integer programme over the leaves, scipy's HiGHS,
  ``trees``). Both ask the model itself at the point they find, so every counted flip is real, and the structure
  proves that no other change within epsilon flips a row they did not count: the success rate is exact, not a
  lower bound. Every other model (and an evaluation without a model object) takes the policy's black-box attack.
- Black-box evasion attack (adversarial-robustness-toolbox): ``hop_skip_jump`` (HopSkipJump, L-infinity) or ``boundary``
  (BoundaryAttack) against a ``BlackBoxClassifier`` that returns the model's decision one-hot, on ``sample_rows``
  seeded rows, one row at a time until ``time_budget_seconds`` runs out. Each attack starts from the nearest row of
  the data with the other decision (seeded and reproducible; ART's own random start is not seedable). Both attacks
  look for the smallest change that flips a decision; a row counts as flipped within epsilon when a point inside the
  epsilon ball (the attack's example itself, or that example clipped into the ball) is verified, by calling the
  model, to get the other decision. The success rate is therefore a lower bound: a stronger search could find more.
  ``zoo`` estimates gradients from class probabilities, which Assay cannot yet ask a model for, so it is reported as
  insufficient evidence.
- Random noise: each sampled row is perturbed ten times uniformly inside the same epsilon ball; the share of those
  draws whose decision differs is reported (not judged), the random counterpart of the attack.
- Counterfactual flip test, on all rows: for each protected attribute that is a model input (a feature named as the
  data's column the column roles map the role to, e.g. ``gender`` for the role ``sex``), set that feature to each
  other value it takes in the data (at most ten: deciles when it takes more), leave every other feature as it is,
  and count the rows whose decision changes under any of them, overall and per group.
  Rows whose category is unknown (``audits.checks.groups.unknown_mask``) are in no group: they count in the overall
  figure (their decision can change all the same) and are reported apart, never as a group of their own.
  A protected attribute that is not a model input cannot change a decision on its own: the test does not apply to it,
  and the result says so (its influence can only come through proxies; the explainability check reports those).
- Fail: the success rate within epsilon does not meet ``max_success_rate`` (on a partial sample: when the flips
  found already exceed it for the whole sample), or a protected attribute's overall counterfactual flip rate does not
  meet ``counterfactual_flip_rate_max``. Both are ratios of counts, judged exactly (``Fraction``) by the threshold's
  operator (``<=`` unless the policy says otherwise). Insufficient evidence: no model to query, or the budget ran
  out before the sample was attacked (and no failure is already certain).
- Cost: the counterfactual and noise tests are a few model calls over the rows and always run in full; the attack
  gets what remains of ``time_budget_seconds``, and the model query that crosses the deadline is stopped. The exact
  linear attack is a few vectorised model calls (the demo's 200 rows: about 0.03 s, where HopSkipJump took about
  16 s); the exact tree attack solves one small programme per row (tens of milliseconds for 100 trees of depth 3)
  and its smallest changes, reported only, get at most ``trees.MINIMAL_SECONDS``.

Modules: ``check`` (the check and its judgement), ``blackbox`` (the feature space and the black-box attacks),
``structural`` (the choice of attack, and the exact linear attack), ``trees`` (the exact tree attack), ``probes``
(noise and counterfactuals). This package re-exports the public names of ``check``, ``blackbox`` and ``probes``.
"""

from audits.checks.adversarial.blackbox import AttackResult, Standardized, bounded_evasion
from audits.checks.adversarial.check import AdversarialCheck
from audits.checks.adversarial.probes import counterfactual_flips, noise_flip_rate

__all__ = [
    "AdversarialCheck",
    "AttackResult",
    "Standardized",
    "bounded_evasion",
    "counterfactual_flips",
    "noise_flip_rate",
]
