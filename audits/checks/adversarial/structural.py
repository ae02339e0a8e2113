"""Attacks that use the model's own structure (pure; no Django), and the choice between them and the black-box
attack.

A model whose structure Assay reads (``audits.checks.explainability.structure``: a linear score, or a tree ensemble)
and whose decisions are that score above a threshold (seen on the evaluation's rows: every favourable row scores
above every unfavourable one) is attacked exactly:

- **linear** (``linear_exact``): in standard units the score is ``s(z) = v . z + c``. Inside the L-infinity ball of
  radius r, intersected with the data's range, the score moves furthest towards the other decision at one corner:
  each feature moves by ``min(r, room_j)`` against the sign of ``v_j`` (``room_j``: the distance to the data's
  bound that way). No other point of that box moves the score further, so a row flips within epsilon exactly when
  the model's own decision at the corner of radius epsilon is the other one. The smallest radius that flips a row
  is closed-form: ``g(r) = sum_j |v_j| min(r, room_j)`` is piecewise linear in r, and the radius is where it reaches
  the row's distance to the threshold. The model confirms it on both sides; where it does not (decisions cut at a
  threshold known only to lie in the gap between the decisions' scores), the radius is bisected along the same
  corner path with the model's own decisions.
- **trees** (``tree_exact``): ``trees.tree_evasion`` (an exact mixed-integer programme over the trees' leaves).

Every counted flip is a point the model itself is asked about and answers with the other decision; what the
structure adds is the proof that no other point within epsilon flips a row it did not count, so the count is exact
rather than a lower bound.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.adversarial.blackbox import AttackResult, Standardized
from audits.checks.adversarial.trees import Ensemble, read_ensemble
from audits.checks.explainability.structure import Structure, read_structure

BISECTION_STEPS = 60
NUDGE = 1e-6  # relative step past the closed-form radius, so the example lies beyond the threshold, not on it


@dataclass(frozen=True)
class Plan:
    """The attack the check runs: ``linear_exact``, ``tree_exact`` or the policy's black-box attack, and why."""

    attack: str
    reason: str
    structure: Structure | None = None
    threshold: float | None = None  # the score that separates the decisions, for the exact attacks
    ensemble: Ensemble | None = None  # the trees, for ``tree_exact``


def plan_attack(evaluation: Any, features: np.ndarray, decisions: np.ndarray, requested: str) -> Plan:
    """The exact attack when the model's structure is read and its decisions are a threshold of the score; otherwise
    the policy's black-box attack (``requested``), with the reason the structure could not be used."""
    model = getattr(evaluation, "model", None)
    favourable = getattr(getattr(evaluation, "roles", None), "favourable", None)
    if model is None or favourable is None:
        return Plan(requested, "no model object was given, only its decisions, so only a black-box attack can run")
    found, why = read_structure(model, favourable, features, probabilities=evaluation.scores is not None)
    if found is None:
        return Plan(requested, f"the model's structure is not used: {why}")
    score = found.score.function(features)
    cut = decision_threshold(score, decisions, found.score.kind)
    if cut is None:
        return Plan(
            requested,
            f"the {found.source} read from the model does not separate its decisions by one threshold on the "
            f"{found.score.output}, so the exact attack would not be exact",
        )
    if found.kind == "linear":
        reason = (
            f"the model is a linear score ({found.source}; {found.score.output}) and its decisions are that score "
            f"above {cut:.6g}: the change that moves the score furthest within epsilon is a corner of the box, found "
            "in closed form, so the count is exact"
        )
        return Plan("linear_exact", reason, found, cut)
    ensemble = read_ensemble(found, features)
    if isinstance(ensemble, str):
        return Plan(requested, f"the model is a tree ensemble ({found.source}) but {ensemble}")
    reason = (
        f"the model is a tree ensemble ({found.source}; {found.score.output}) and its decisions are that score "
        f"above {cut:.6g}: the lowest or highest score within epsilon is found exactly over the trees' leaves (a "
        "mixed-integer programme), so the count is exact"
    )
    return Plan("tree_exact", reason, found, cut, ensemble)


def decision_threshold(score: np.ndarray, decisions: np.ndarray, kind: str) -> float | None:
    """The score above which the decisions are favourable, when one separates them on these rows: 0 for log-odds
    (0.5 for a probability) when it does, else the middle of the gap; None when the scores overlap."""
    favourable = score[decisions]
    unfavourable = score[~decisions]
    natural = {"log_odds": 0.0, "probability": 0.5}.get(kind)
    if not len(favourable) or not len(unfavourable):
        return natural
    low, high = float(unfavourable.max()), float(favourable.min())
    if low >= high:
        return None
    if natural is not None and low <= natural < high:
        return natural
    return (low + high) / 2


def _corner(z: np.ndarray, direction: np.ndarray, room: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Each row moved by ``min(radius, room)`` along ``direction`` (radius: one per row)."""
    return z + direction * np.minimum(np.asarray(radius, dtype=np.float64).reshape(-1, 1), room)


def minimal_linear_radius(weights: np.ndarray, room: np.ndarray, need: np.ndarray) -> np.ndarray:
    """The smallest r with ``sum_j |w_j| min(r, room_ij) >= need_i`` for each row i (inf when even the whole room
    does not reach it). ``g(r)`` is piecewise linear with breakpoints at the sorted rooms: find the first breakpoint
    where it reaches ``need`` and solve the linear piece before it."""
    size = np.broadcast_to(np.abs(weights), room.shape)
    order = np.argsort(room, axis=1)
    rooms = np.take_along_axis(room, order, axis=1)
    sizes = np.take_along_axis(size, order, axis=1)
    moved = np.cumsum(sizes * rooms, axis=1)  # the change from the features whose room is used up, up to i
    after = sizes.sum(axis=1, keepdims=True) - np.cumsum(sizes, axis=1)  # |w| of the features with more room
    reach = moved + rooms * after  # g at each breakpoint
    need = np.asarray(need, dtype=np.float64)
    radius = np.full(len(room), np.inf)
    if room.shape[1] == 0:
        radius[need <= 0] = 0.0
        return radius
    reachable = reach[:, -1] >= need
    first = np.argmax(reach >= need[:, None], axis=1)
    rows = np.arange(len(room))
    before = moved[rows, first] - sizes[rows, first] * rooms[rows, first]
    slope = after[rows, first] + sizes[rows, first]
    with np.errstate(divide="ignore", invalid="ignore"):
        solved = np.where(slope > 0, (need - before) / slope, 0.0)
    radius[reachable] = np.maximum(solved[reachable], 0.0)
    return radius


class _Counted:
    """The model's decisions on points in standard units, with the number of rows asked."""

    def __init__(self, predict: Callable[[np.ndarray], np.ndarray], space: Standardized, like: np.ndarray) -> None:
        self.predict = predict
        self.space = space
        self.like = like
        self.queries = 0

    def __call__(self, z: np.ndarray, which: np.ndarray | None = None) -> np.ndarray:
        """Decisions at ``z``, the points for rows ``which`` of ``like`` (all of them by default)."""
        self.queries += len(z)
        like = self.like if which is None else self.like[which]
        return np.asarray(self.predict(self.space.to_features(z, like)), dtype=bool)


def linear_evasion(
    *,
    plan: Plan,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    epsilon: float,
) -> AttackResult:
    """The exact L-infinity attack on a linear score: for each row of ``features[rows]``, whether a change of at most
    ``epsilon`` standard deviations per feature (within the data's range) flips its decision, the smallest change
    that does, and the model's own decisions at both points."""
    if plan.structure is None or plan.structure.weights is None or plan.threshold is None:
        raise ValueError("the exact linear attack needs the model's weights and decision threshold")
    space = Standardized.of(features)
    like = features[rows]
    ask = _Counted(predict, space, like)
    z = space.to_z(like)
    own = ask(z)  # the rows' decisions as every attack sees them (after the round trip through standard units)
    weights = plan.structure.weights[space.varying] * space.scale[space.varying]
    direction = np.where(own[:, None], -np.sign(weights), np.sign(weights))
    room = np.where(direction > 0, space.high - z, np.where(direction < 0, z - space.low, 0.0))
    room = np.maximum(room, 0.0)
    score = plan.structure.score.function(space.to_features(z, like))
    need = np.maximum(np.where(own, score - plan.threshold, plan.threshold - score), 0.0)
    minimal = minimal_linear_radius(weights, room, need)
    widest = room.max(axis=1, initial=0.0)

    # The exact question: the corner of radius epsilon moves the score furthest; the model answers there.
    ball = _corner(z, direction, room, np.full(len(z), epsilon))
    within = ask(ball) != own

    # The smallest flipping change: the closed-form radius, confirmed by the model on both sides of it (the
    # threshold is 0 on the log-odds for a model that decides by its label, but only known to lie in the data's gap
    # between the decisions' scores when the decisions are cut elsewhere). Where the model does not confirm it, the
    # radius is bisected along the same corner path with the model's own decisions (the path moves the score
    # fastest, so the first radius where the decision changes along it is the smallest over the whole box).
    step = NUDGE * np.maximum(minimal, 1e-3)
    finite = np.isfinite(minimal)
    past = np.where(finite, np.minimum(widest, minimal + step), widest)
    short = np.where(finite, np.maximum(minimal - step, 0.0), 0.0)
    example = _corner(z, direction, room, past)
    flipped = ask(example) != own
    confirmed = flipped & finite & ((ask(_corner(z, direction, room, short)) == own) | (minimal == 0))
    far = ask(_corner(z, direction, room, widest)) != own
    todo = np.flatnonzero(~confirmed & far)
    low, high = np.zeros(len(todo)), widest[todo]
    for _ in range(BISECTION_STEPS if len(todo) else 0):
        middle = (low + high) / 2
        moved = ask(_corner(z[todo], direction[todo], room[todo], middle), todo) != own[todo]
        high = np.where(moved, middle, high)
        low = np.where(moved, low, middle)
    example[todo] = _corner(z[todo], direction[todo], room[todo], high)
    flipped[todo] = True
    minimal = np.where(confirmed, minimal, np.inf)
    minimal[todo] = high
    flipped &= np.isfinite(minimal)
    return AttackResult(
        rows=np.asarray(rows, dtype=np.intp),
        adversarial=example,
        flipped=flipped,
        within_epsilon=within,
        within_epsilon_points=np.where(within[:, None], ball, z),
        queries=ask.queries,
        rows_sampled=len(rows),
        stopped_by_time_budget=False,
        minimal=minimal,
    )
