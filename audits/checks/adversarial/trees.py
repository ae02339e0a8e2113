"""The exact evasion attack on tree ensembles (pure; no Django): Kantchelian et al.'s mixed-integer programme
("Evasion and Hardening of Tree Ensemble Classifiers", ICML 2016), solved by scipy's HiGHS.

A tree ensemble's score is a constant plus one leaf value per tree. Inside a box (the epsilon ball in standard
units, intersected with the data's range; the other features fixed) each split ``x_j <= t`` is either decided by the
box or open; each open split gets a binary variable (``p = 1``: the point is on the left), ordered along each
feature (``x_j <= t1`` implies ``x_j <= t2`` for ``t1 < t2``), and each reachable leaf a variable that the splits
above it force to 0 unless the point is on its side. The lowest (for a favourable row) or highest score over all
such assignments is the lowest or highest score of any point in the box, so a row flips within epsilon exactly when
the model's own decision at the point built from the best assignment is the other one.

A second programme finds each row's smallest flipping change over the data's whole range (Kantchelian's
L-infinity formulation): a radius variable ``r`` at least the distance to every threshold the chosen side of a split
needs to cross, minimised subject to the score reaching the decision threshold. It is reported, not judged, costs
far more than the verdict, and gets at most ``MINIMAL_SECONDS`` (the result says how many rows have it).

The trees are read from the estimator (scikit-learn trees, forests, extra trees, gradient boosting and histogram
gradient boosting without categorical splits) or from the ONNX ensemble ``onnx_trees`` reads, and used only after
their sum reproduces the model's own score on the evaluation's rows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from audits.checks.adversarial.blackbox import AttackResult, Standardized
from audits.checks.explainability import OutOfTime, TimeBudget
from audits.checks.explainability.structure import Structure

# The smallest changes are reported, not judged, and cost far more than the verdict (a programme over every leaf
# of the data's whole range): they get at most this long, and the result says how many rows have one.
MINIMAL_SECONDS = 2.0
SCORE_TOLERANCE = 1e-6  # the trees' sum against the model's own score (float64 sums of float64 leaves)
MARGIN = 1e-9  # the score must pass the decision threshold by this much for a change to count as crossing it


@dataclass(frozen=True)
class Tree:
    """One tree's nodes: ``left``/``right`` children (-1 at a leaf), the split's ``feature`` and ``threshold``
    (x <= threshold goes left), and each leaf's contribution to the score."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray


@dataclass(frozen=True)
class Ensemble:
    trees: list[Tree]
    offset: float

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """The ensemble's score, comparing in float32 as the models do (scikit-learn and onnxruntime)."""
        matrix = np.asarray(matrix, dtype=np.float32).astype(np.float64)
        total = np.full(len(matrix), self.offset)
        rows = np.arange(len(matrix))
        for tree in self.trees:
            node = np.zeros(len(matrix), dtype=np.int64)
            for _ in range(len(tree.left)):
                inner = tree.left[node] >= 0
                if not inner.any():
                    break
                value = matrix[rows, np.where(inner, tree.feature[node], 0)]
                step = np.where(value <= tree.threshold[node], tree.left[node], tree.right[node])
                node = np.where(inner, step, node)
            total += tree.value[node]
        return total


def _sklearn_tree(tree: Any, values: np.ndarray) -> Tree:
    inner = tree.children_left >= 0
    return Tree(
        left=np.asarray(tree.children_left, dtype=np.int64),
        right=np.asarray(tree.children_right, dtype=np.int64),
        feature=np.where(inner, tree.feature, 0).astype(np.int64),
        threshold=np.asarray(tree.threshold, dtype=np.float64),
        value=np.where(inner, 0.0, values).astype(np.float64),
    )


def _class_share(tree: Any, index: int) -> np.ndarray:
    counts = np.asarray(tree.value[:, 0, :], dtype=np.float64)
    return counts[:, index] / np.maximum(counts.sum(axis=1), 1e-300)


def _onnx_trees(model: dict[str, Any], index: int) -> list[Tree] | str:
    """ONNX trees read by onnx_trees into shap's format: their leaves already score the favourable class."""
    return [
        Tree(
            left=np.asarray(t["children_left"], dtype=np.int64),
            right=np.asarray(t["children_right"], dtype=np.int64),
            feature=np.maximum(np.asarray(t["features"], dtype=np.int64), 0),
            threshold=np.asarray(t["thresholds"], dtype=np.float32).astype(np.float64),
            value=np.asarray(t["values"], dtype=np.float64)[:, 0],
        )
        for t in model["trees"]
    ]


def _one_tree(estimator: Any, index: int) -> list[Tree] | str:
    tree = estimator.tree_
    shares = _class_share(tree, index) if hasattr(estimator, "classes_") else tree.value[:, 0, 0]
    return [_sklearn_tree(tree, shares)]


def _forest(estimator: Any, index: int) -> list[Tree] | str:
    size = len(estimator.estimators_)
    classifier = hasattr(estimator, "classes_")
    return [
        _sklearn_tree(e.tree_, (_class_share(e.tree_, index) if classifier else e.tree_.value[:, 0, 0]) / size)
        for e in estimator.estimators_
    ]


def _boosting(estimator: Any, index: int) -> list[Tree] | str:
    if estimator.estimators_.shape[1] != 1:
        return f"{type(estimator).__name__} has {estimator.estimators_.shape[1]} trees per stage"
    rate = float(estimator.learning_rate)
    return [_sklearn_tree(e.tree_, rate * e.tree_.value[:, 0, 0]) for e in estimator.estimators_[:, 0]]


def _hist_boosting(estimator: Any, index: int) -> list[Tree] | str:
    name = type(estimator).__name__
    if any(len(stage) != 1 for stage in estimator._predictors):
        return f"{name} has more than one tree per stage"
    trees = []
    for (predictor,) in estimator._predictors:
        nodes = predictor.nodes
        if "is_categorical" in nodes.dtype.names and nodes["is_categorical"].any():
            return f"{name} has categorical splits"
        leaf = nodes["is_leaf"].astype(bool)
        trees.append(
            Tree(
                left=np.where(leaf, -1, nodes["left"].astype(np.int64)),
                right=np.where(leaf, -1, nodes["right"].astype(np.int64)),
                feature=np.asarray(nodes["feature_idx"], dtype=np.int64),
                threshold=np.asarray(nodes["num_threshold"], dtype=np.float64),
                value=np.where(leaf, nodes["value"], 0.0).astype(np.float64),
            )
        )
    return trees


# Each reader gives the trees with leaf values up to one sign and offset, fixed against the model's score after.
READERS: dict[str, Callable[[Any, int], list[Tree] | str]] = {
    **dict.fromkeys(
        ("DecisionTreeClassifier", "ExtraTreeClassifier", "DecisionTreeRegressor", "ExtraTreeRegressor"), _one_tree
    ),
    **dict.fromkeys(
        ("RandomForestClassifier", "ExtraTreesClassifier", "RandomForestRegressor", "ExtraTreesRegressor"), _forest
    ),
    **dict.fromkeys(("GradientBoostingClassifier", "GradientBoostingRegressor"), _boosting),
    **dict.fromkeys(("HistGradientBoostingClassifier", "HistGradientBoostingRegressor"), _hist_boosting),
}


def _raw_trees(structure: Structure) -> list[Tree] | str:
    estimator = structure.estimator
    index = structure.class_index if structure.class_index is not None else 1
    if isinstance(estimator, dict):
        return _onnx_trees(estimator, index)
    reader = READERS.get(type(estimator).__name__)
    if reader is None:
        return f"{type(estimator).__name__}'s trees are not read for the exact attack"
    return reader(estimator, index)


def read_ensemble(structure: Structure, features: np.ndarray) -> Ensemble | str:
    """The tree ensemble whose sum (plus a constant) is ``structure``'s score on ``features``, or why not."""
    trees = _raw_trees(structure)
    if isinstance(trees, str):
        return trees
    if np.isnan(features).any():
        return "the data has missing values, which trees route by their own rules"
    target = structure.score.function(features)
    raw = Ensemble(trees, 0.0).score(features)
    for sign in (1.0, -1.0):
        offset = float(np.mean(target - sign * raw))
        gap = float(np.max(np.abs(target - sign * raw - offset)))
        if gap <= SCORE_TOLERANCE * max(1.0, float(np.max(np.abs(target)))):
            signed = [Tree(t.left, t.right, t.feature, t.threshold, sign * t.value) for t in trees]
            return Ensemble(signed, offset)
    return "the sum of its trees does not reproduce the model's score"


@dataclass
class _Programme:
    """One row's mixed-integer programme over a box: splits, leaves, and how to turn a solution into a point."""

    splits: list[tuple[int, float]]  # (feature, threshold) of each open split, one binary variable each
    leaves: list[tuple[int, int]]  # (tree, node) of each reachable leaf, one variable each
    rows: list[dict[int, float]]  # sparse constraint rows over [splits, leaves]: column -> coefficient
    lower: list[float]
    upper: list[float]
    fixed: float  # the score of trees with a single reachable leaf, and the offset


def _programme(ensemble: Ensemble, low: np.ndarray, high: np.ndarray) -> _Programme:
    splits: dict[tuple[int, float], int] = {}
    leaves: list[tuple[int, int]] = []
    # (split, leaves on the left, leaves on the right) for each open node; one-leaf trees add to ``fixed``.
    guards: list[tuple[int, list[int], list[int]]] = []
    per_tree: list[list[int]] = []
    fixed = ensemble.offset
    for t, tree in enumerate(ensemble.trees):
        mine: list[int] = []

        def walk(node: int, tree: Tree = tree, t: int = t, mine: list[int] = mine) -> list[int]:
            if tree.left[node] < 0:
                leaves.append((t, node))
                mine.append(len(leaves) - 1)
                return [len(leaves) - 1]
            j, cut = int(tree.feature[node]), float(tree.threshold[node])
            can_left, can_right = low[j] <= cut, high[j] > cut
            if can_left and not can_right:
                return walk(int(tree.left[node]))
            if can_right and not can_left:
                return walk(int(tree.right[node]))
            left, right = walk(int(tree.left[node])), walk(int(tree.right[node]))
            guards.append((splits.setdefault((j, cut), len(splits)), left, right))
            return left + right

        walk(0)
        if len(mine) == 1:
            fixed += float(tree.value[leaves[mine[0]][1]])
            leaves.pop()
        else:
            per_tree.append(mine)
    first = len(splits)  # leaf variables come after the split variables
    rows: list[dict[int, float]] = []
    lower: list[float] = []
    upper: list[float] = []
    for mine in per_tree:  # each tree is in exactly one leaf
        rows.append(dict.fromkeys((first + i for i in mine), 1.0))
        lower.append(1.0)
        upper.append(1.0)
    for split, left, right in guards:  # leaves on the left need p = 1, leaves on the right p = 0
        rows.append({**dict.fromkeys((first + i for i in left), 1.0), split: -1.0})
        lower.append(-np.inf)
        upper.append(0.0)
        rows.append({**dict.fromkeys((first + i for i in right), 1.0), split: 1.0})
        lower.append(-np.inf)
        upper.append(1.0)
    ordered = sorted(splits.items())
    for ((j1, _), a), ((j2, _), b) in itertools.pairwise(ordered):
        if j1 == j2:  # x <= t1 implies x <= t2
            rows.append({a: 1.0, b: -1.0})
            lower.append(-np.inf)
            upper.append(0.0)
    return _Programme(list(splits), leaves, rows, lower, upper, fixed)


def _float32_inside(value: float, *, below: bool) -> float:
    """The float32 number nearest ``value`` on its side: at most it (``below``), or above it."""
    near = np.float32(value)
    if below and float(near) > value:  # compared in float64 (numpy would compare a float32 in float32)
        near = np.nextafter(near, np.float32(-np.inf))
    if not below and float(near) <= value:
        near = np.nextafter(near, np.float32(np.inf))
    return float(near)


def _point(
    programme: _Programme, chosen: np.ndarray, x: np.ndarray, low: np.ndarray, high: np.ndarray, *, nearest: bool
) -> np.ndarray:
    """A point of the box on the chosen side of every open split. Each feature keeps its value when it is already on
    that side; otherwise it moves to the middle of its allowed interval, or (``nearest``) to the float32 number
    closest to its value inside the interval (the models compare in float32)."""
    point = np.array(x, dtype=np.float64, copy=True)
    bounds: dict[int, list[float]] = {}
    for (j, cut), left in zip(programme.splits, chosen, strict=True):
        above, below = bounds.setdefault(j, [float(low[j]) - 1.0, float(high[j])])
        bounds[j] = [above, min(below, cut)] if left > 0.5 else [max(above, cut), below]
    for j, (above, below) in bounds.items():
        if above < x[j] <= below:
            continue
        if not nearest:
            point[j] = (max(above, float(low[j])) + below) / 2
        elif x[j] > below:
            point[j] = _float32_inside(below, below=True)
        else:
            point[j] = _float32_inside(above, below=False)
    return point


def _solve(
    programme: _Programme,
    objective: np.ndarray,
    extra: list[tuple[dict[int, float], float, float]],
    *,
    radius: bool,
    seconds: float,
) -> tuple[np.ndarray | None, bool]:
    """The programme's optimum: ``objective`` over its variables (splits, leaves, and a last unbounded radius when
    ``radius``), with ``extra`` constraints (row, lower, upper) besides its own, found within ``seconds``. Returns
    the solution (None when there is none) and whether the solver finished: a solution it did not prove optimal in
    time is no answer, and neither is the lack of one."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_array

    width = len(objective)
    rows = programme.rows + [row for row, _, _ in extra]
    lower = programme.lower + [low for _, low, _ in extra]
    upper = programme.upper + [high for _, _, high in extra]
    integrality = np.zeros(width)
    integrality[: len(programme.splits)] = 1
    top = np.ones(width)
    if radius:
        top[-1] = np.inf
    constraints = []
    if rows:
        at = [(i, column, value) for i, row in enumerate(rows) for column, value in row.items()]
        matrix = csr_array(([v for _, _, v in at], ([i for i, _, _ in at], [c for _, c, _ in at])), (len(rows), width))
        constraints.append(LinearConstraint(matrix, np.array(lower), np.array(upper)))
    options = {"time_limit": max(seconds, 0.01)}
    found = milp(objective, constraints=constraints, integrality=integrality, bounds=Bounds(0, top), options=options)
    finished = found.status in (0, 2)  # 0: optimal; 2: proved infeasible
    return (np.asarray(found.x) if found.status == 0 else None), finished


def _leaf_values(ensemble: Ensemble, programme: _Programme) -> np.ndarray:
    return np.array([ensemble.trees[t].value[n] for t, n in programme.leaves], dtype=np.float64)


def extreme_point(
    ensemble: Ensemble, x: np.ndarray, low: np.ndarray, high: np.ndarray, *, lowest: bool, seconds: float = np.inf
) -> tuple[np.ndarray, float]:
    """The point of the box ``[low, high]`` (raw units; ``x`` inside it) with the lowest (or highest) score, and
    that score; OutOfTime when the solver cannot prove it within ``seconds``."""
    programme = _programme(ensemble, low, high)
    if not programme.leaves:
        return np.array(x, dtype=np.float64, copy=True), programme.fixed
    values = _leaf_values(ensemble, programme)
    objective = np.concatenate([np.zeros(len(programme.splits)), values if lowest else -values])
    solved, finished = _solve(programme, objective, [], radius=False, seconds=seconds)
    if not finished:
        raise OutOfTime
    if solved is None:  # the box holds x, so the programme has a solution
        raise RuntimeError("the tree attack's programme found no solution")
    point = _point(programme, solved[: len(programme.splits)], x, low, high, nearest=False)
    return point, programme.fixed + float(values @ solved[len(programme.splits) :])


def minimal_change(
    ensemble: Ensemble,
    x: np.ndarray,
    scale: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    *,
    target: float,
    down: bool,
    seconds: float = np.inf,
) -> tuple[float, np.ndarray | None]:
    """The smallest L-infinity change (in units of ``scale``) within ``[low, high]`` that takes the score past
    ``target`` (below it when ``down``), as an infimum, and a point just past it; (inf, None) when none does, and
    (NaN, None) when the solver cannot prove it within ``seconds``."""
    programme = _programme(ensemble, low, high)
    if not programme.leaves:
        return np.inf, None
    values = _leaf_values(ensemble, programme)
    count = len(programme.splits)
    width = count + len(programme.leaves) + 1  # the last variable is the radius
    extra: list[tuple[dict[int, float], float, float]] = []
    for k, (j, cut) in enumerate(programme.splits):
        distance = abs(cut - x[j]) / scale[j]
        if cut >= x[j]:  # the right side (p = 0) needs x_j > cut: r >= distance (1 - p)
            extra.append(({width - 1: 1.0, k: distance}, distance, np.inf))
        else:  # the left side (p = 1) needs x_j <= cut: r >= distance p
            extra.append(({width - 1: 1.0, k: -distance}, 0.0, np.inf))
    row = {count + i: float(v) for i, v in enumerate(values)}
    rest = target - programme.fixed
    extra.append((row, -np.inf, rest - MARGIN) if down else (row, rest + MARGIN, np.inf))
    objective = np.zeros(width)
    objective[-1] = 1.0
    solved, finished = _solve(programme, objective, extra, radius=True, seconds=seconds)
    if not finished:
        return np.nan, None
    if solved is None:
        return np.inf, None
    return float(solved[-1]), _point(programme, solved[:count], x, low, high, nearest=True)


def tree_evasion(
    *,
    ensemble: Ensemble,
    threshold: float,
    predict: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    rows: np.ndarray,
    epsilon: float,
    budget: TimeBudget,
) -> AttackResult:
    """The exact L-infinity attack on a tree ensemble: for each row of ``features[rows]``, the point within
    ``epsilon`` standard deviations (and the data's range) whose score is furthest towards the other decision, the
    model's own decision there, and (while ``budget`` lasts) the smallest change that flips the row.

    The within-epsilon programmes come first, for every row: they are the verdict, and a budget that runs out before
    they are done stops the attack as it stops the black-box one. The smallest changes come after, for at most
    ``MINIMAL_SECONDS``; a row without one has NaN there. A row flipped within epsilon counts as flipped at some
    distance whether or not its smallest change was found."""
    space = Standardized.of(features)
    scale = np.where(space.varying, space.scale, 1.0)
    data_low, data_high = features.min(axis=0), features.max(axis=0)
    radius = np.where(space.varying, epsilon * scale, 0.0)
    like = features[rows]
    own = np.asarray(predict(space.to_features(space.to_z(like), like)), dtype=bool)
    queries = len(like)
    points: list[np.ndarray] = []
    stopped = False
    try:
        for i, x in enumerate(like):
            if budget.expired():
                raise OutOfTime
            low = np.where(space.varying, np.maximum(data_low, x - radius), x)
            high = np.where(space.varying, np.minimum(data_high, x + radius), x)
            left = budget.seconds - budget.elapsed()
            point, _ = extreme_point(ensemble, x, low, high, lowest=bool(own[i]), seconds=left)
            points.append(point)
    except OutOfTime:
        stopped = True
    done = len(points)
    ball = np.vstack(points) if points else np.zeros((0, features.shape[1]))
    within = np.asarray(predict(ball), dtype=bool) != own[:done] if done else np.zeros(0, dtype=bool)
    queries += done
    minimal = np.full(done, np.nan)
    examples = np.where(within[:, None], ball, like[:done]) if done else ball
    until = time.monotonic() + MINIMAL_SECONDS
    for i in range(done if not stopped else 0):
        if budget.expired() or time.monotonic() > until:
            break
        minimal[i], example = _smallest(
            ensemble,
            like[i],
            space,
            (data_low, data_high),
            start=epsilon if within[i] else 2 * epsilon,
            target=threshold,
            down=bool(own[i]),
            seconds=lambda: min(until - time.monotonic(), budget.seconds - budget.elapsed()),
        )
        if example is not None:
            examples[i] = example
    flipped = np.asarray(predict(examples), dtype=bool) != own[:done] if done else np.zeros(0, dtype=bool)
    flipped |= within
    queries += done
    z_ball = space.to_z(ball) if done else np.zeros((0, int(space.varying.sum())))
    return AttackResult(
        rows=np.asarray(rows[:done], dtype=np.intp),
        adversarial=space.to_z(examples) if done else np.zeros((0, int(space.varying.sum()))),
        flipped=flipped,
        within_epsilon=within,
        within_epsilon_points=np.where(within[:, None], z_ball, space.to_z(like[:done])) if done else z_ball,
        queries=queries,
        rows_sampled=len(rows),
        stopped_by_time_budget=stopped,
        minimal=minimal,
    )


def _smallest(
    ensemble: Ensemble,
    x: np.ndarray,
    space: Standardized,
    data: tuple[np.ndarray, np.ndarray],
    *,
    start: float,
    target: float,
    down: bool,
    seconds: Callable[[], float],
) -> tuple[float, np.ndarray | None]:
    """``minimal_change`` over growing boxes: radius ``start``, doubled until the data's whole range. A change found
    inside a box is the smallest anywhere (every closer point is inside that box too), and a small box's programme
    has far fewer open splits than the whole range's."""
    scale = np.where(space.varying, space.scale, 1.0)
    radius = start
    while True:
        low = np.where(space.varying, np.maximum(data[0], x - radius * scale), x)
        high = np.where(space.varying, np.minimum(data[1], x + radius * scale), x)
        whole = bool(np.all((low <= data[0]) | ~space.varying) and np.all((high >= data[1]) | ~space.varying))
        found, example = minimal_change(ensemble, x, scale, low, high, target=target, down=down, seconds=seconds())
        if not np.isinf(found) or whole:
            return found, example
        radius *= 2
