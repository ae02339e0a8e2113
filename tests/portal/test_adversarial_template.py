"""The adversarial check's portal section says what its count means: an exact attack's flips are the true number
within epsilon, a black-box attack's only a lower bound (docs/verdicts.md), and the exact attacks are named in
words, not by their result keys."""

from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import render_to_string


def details(name: str, *, exact: bool) -> dict[str, Any]:
    return {
        "epsilon": 0.1,
        "max_success_rate": 0.05,
        "perturbation_unit": "standard deviations of each feature",
        "attack": {
            "name": name,
            "exact": exact,
            "attack_reason": "the model's structure was read" if exact else "no structure could be read",
            "rows_attacked": 200,
            "rows_sampled": 200,
            "succeeded_within_epsilon": 25,
            "success_rate_within_epsilon": 0.125,
            "median_perturbation": 0.05,
            "library": "adversarial-robustness-toolbox 1.20",
        },
    }


@pytest.mark.parametrize(
    ("name", "words"),
    [("linear_exact", "exact, closed form for a linear model"), ("tree_exact", "exact, mixed-integer programme")],
)
def test_an_exact_attack_is_named_in_words_and_its_count_is_the_true_number(name: str, words: str) -> None:
    html = render_to_string("audits/checks/adversarial.html", {"d": details(name, exact=True)})
    assert f"Evasion attack: {words}" in html
    assert name not in html
    assert "the true number of decisions a change within ε can flip" in html
    assert "lower bound" not in html


def test_a_black_box_attack_says_its_count_is_a_lower_bound() -> None:
    html = render_to_string("audits/checks/adversarial.html", {"d": details("hop_skip_jump", exact=False)})
    assert "Evasion attack: hop_skip_jump" in html
    assert "a lower bound: a stronger search could flip more (no structure could be read)" in html
