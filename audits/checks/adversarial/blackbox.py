"""The black-box evasion attacks (adversarial-robustness-toolbox's HopSkipJump and BoundaryAttack against a
``BlackBoxClassifier`` answering the model's decision), and the feature space every attack works in: the varying
features in standard-deviation units, bounded by the range the data shows (pure; no Django)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.explainability import OutOfTime, TimeBudget

# Attack settings: bounded so that one row costs about a thousand model queries per iteration at most.
HOP_SKIP_JUMP = {"max_iter": 10, "max_eval": 1000, "init_eval": 100}
BOUNDARY = {"max_iter": 200, "num_trial": 25, "sample_size": 20}
QUERY_BATCH = 4096


@dataclass
class Standardized:
    """The varying features in standard-deviation units, and the way back to a full feature matrix."""

    mean: np.ndarray
    scale: np.ndarray
    varying: np.ndarray  # boolean: the features an attack may change (not constant in the data)
    low: np.ndarray  # per varying feature, the data's minimum in standard units
    high: np.ndarray

    @classmethod
    def of(cls, features: np.ndarray) -> Standardized:
        mean = features.mean(axis=0)
        scale = features.std(axis=0)
        varying = scale > 0
        z = (features[:, varying] - mean[varying]) / scale[varying]
        return cls(mean=mean, scale=scale, varying=varying, low=z.min(axis=0), high=z.max(axis=0))

    def to_z(self, features: np.ndarray) -> np.ndarray:
        return (features[:, self.varying] - self.mean[self.varying]) / self.scale[self.varying]

    def to_features(self, z: np.ndarray, like: np.ndarray) -> np.ndarray:
        """Rows of ``like`` with their varying features replaced by ``z`` (in standard units)."""
        full = np.array(like, dtype=np.float64, copy=True)
        full[:, self.varying] = np.asarray(z, dtype=np.float64) * self.scale[self.varying] + self.mean[self.varying]
        return full


@dataclass
class AttackResult:
    """What an evasion attack found on the rows it covered (in sample order)."""

    rows: np.ndarray  # indices of the rows attacked to the end
    adversarial: np.ndarray  # the attack's example for each (standard units, varying features)
    flipped: np.ndarray  # the example gets the other decision
    within_epsilon: np.ndarray  # a point inside the epsilon ball gets the other decision
    within_epsilon_points: np.ndarray  # that point (the original row where there is none)
    queries: int
    rows_sampled: int
    stopped_by_time_budget: bool
    minimal: np.ndarray | None = None  # an exact attack's smallest flipping change per row (inf: none in range)


class _Oracle:
    """The model's decisions for points in standard units, counted, and refused once the budget has run out."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], space: Standardized, budget: TimeBudget) -> None:
        self.predict = predict
        self.space = space
        self.budget = budget
        self.queries = 0

    def __call__(self, z: np.ndarray, like: np.ndarray) -> np.ndarray:
        if self.budget.expired():
            raise OutOfTime
        self.queries += len(z)
        rows = np.repeat(like, len(z), axis=0) if len(like) != len(z) else like
        return np.asarray(self.predict(self.space.to_features(z, rows)), dtype=bool)


def _search(attack: str, oracle: _Oracle, like: np.ndarray) -> Any:
    """The ART attack against a black-box classifier answering the decision for ``like`` with changed features."""
    with warnings.catch_warnings():  # ART warns at import about optional deep-learning frameworks
        warnings.simplefilter("ignore")
        from art.attacks.evasion import BoundaryAttack, HopSkipJump
        from art.estimators.classification import BlackBoxClassifier

    def one_hot(z: np.ndarray) -> np.ndarray:
        decided = oracle(z, like)
        return np.stack([~decided, decided], axis=1).astype(np.float32)

    space = oracle.space
    classifier = BlackBoxClassifier(
        one_hot, input_shape=(int(space.varying.sum()),), nb_classes=2, clip_values=(space.low, space.high)
    )
    if attack == "boundary":
        return BoundaryAttack(classifier, batch_size=QUERY_BATCH, targeted=False, verbose=False, **BOUNDARY)
    return HopSkipJump(classifier, batch_size=QUERY_BATCH, targeted=False, norm=np.inf, verbose=False, **HOP_SKIP_JUMP)


def _evade(
    *,
    attack: str,
    oracle: _Oracle,
    like: np.ndarray,
    z: np.ndarray,
    own: bool,
    start: np.ndarray | None,
    epsilon: float,
) -> tuple[np.ndarray, bool, np.ndarray | None]:
    """One row's attack: the example, whether it flips the row's decision ``own``, and a point inside the epsilon
    ball that does (or None)."""
    if start is None:  # the model gives one decision on every row: nowhere to start from
        return z[0], False, None
    example = _search(attack, oracle, like).generate(z.astype(np.float32), x_adv_init=start.astype(np.float32))
    example = np.asarray(example, dtype=np.float64)
    if oracle(example, like)[0] == own:
        return example[0], False, None
    ball = np.clip(example, z - epsilon, z + epsilon)  # in float64, so that |ball - z| <= epsilon up to rounding
    return example[0], True, (ball[0] if oracle(ball, like)[0] != own else None)


def bounded_evasion(
    *,
    attack: str,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    epsilon: float,
    budget: TimeBudget,
    seed: int,
) -> AttackResult:
    """An ART black-box evasion attack on ``features[rows]``, one row at a time until ``budget`` runs out, with each
    example checked against the model inside the L-infinity ball of radius ``epsilon`` standard deviations.

    Parameters
    ----------
    attack
        ``hop_skip_jump`` or ``boundary``.
    predict
        The model's favourable decision for each row of a matrix.
    features
        All rows' features (standard deviations, ranges and starting points come from them).
    rows
        The rows to attack, in order.
    epsilon
        The L-infinity radius, in standard deviations, within which a flipped decision counts.
    budget
        The time budget; a model query past it raises OutOfTime and the row in progress is dropped.
    seed
        Seeds numpy's global generator (restored afterwards), which ART draws its random directions from.
    """
    space = Standardized.of(features)
    oracle = _Oracle(predict, space, budget)
    z_all = space.to_z(features)
    attacked, examples, flipped, inside, points = [], [], [], [], []
    stopped = False
    state = np.random.get_state()
    np.random.seed(seed % 2**32)
    try:
        # Decisions of the rows as the attack sees them (after the round trip through standard units).
        decisions = oracle(z_all, features)
        for row in rows:
            z = z_all[row : row + 1]
            others = np.flatnonzero(decisions != decisions[row])
            # Start from the nearest row with the other decision: ART's own random start is not seedable.
            start = others[np.argmin(np.abs(z_all[others] - z).max(axis=1))] if len(others) else None
            example, is_flipped, point = _evade(
                attack=attack,
                oracle=oracle,
                like=features[row : row + 1],
                z=z,
                own=bool(decisions[row]),
                start=None if start is None else z_all[start : start + 1],
                epsilon=epsilon,
            )
            attacked.append(int(row))
            examples.append(example)
            flipped.append(is_flipped)
            inside.append(point is not None)
            points.append(z[0] if point is None else point)
    except OutOfTime:
        stopped = True
    finally:
        np.random.set_state(state)
    width = int(space.varying.sum())
    return AttackResult(
        rows=np.asarray(attacked, dtype=np.intp),
        adversarial=np.vstack(examples) if examples else np.zeros((0, width)),
        flipped=np.asarray(flipped, dtype=bool),
        within_epsilon=np.asarray(inside, dtype=bool),
        within_epsilon_points=np.vstack(points) if points else np.zeros((0, width)),
        queries=oracle.queries,
        rows_sampled=len(rows),
        stopped_by_time_budget=stopped,
    )
