"""The offline coder's learning: every code's evidence is its definition (the prior) combined with the
units a researcher has coded, weighted by what the project's own decisions show. Pure (numpy, scikit-learn).

* **Prior**: the cosine between a unit and the code's text (name, definition, inclusion, examples).
* **Centred prior**: the same cosine once the decided units' mean is taken from the unit and the codebook's
  mean from the code. E5 puts every query and every passage near their own common direction; taking it
  away leaves what tells a project's units apart. It ranks better on some projects (claims, sub-themes) and
  worse on others (news passages), so only the project's decisions can say whether to use it.
* **Learnt evidence**, per code: a *prototype* that starts at the definition and moves towards the coded
  units as they accrue; the nearest coded unit (*kNN*); how often the code was applied (*prevalence*); and
  a logistic regression on the standardised embeddings (multinomial, or one-vs-rest when units carry
  several codes).
* A logistic **combiner** over these features gives the probability that a code applies. Which features are
  used is decided by cross-validation on the units decided so far, among the prior alone, the prior with
  its centred twin, and the prior with the learnt evidence (with and without the centred prior): a subset
  is chosen only if it ranks the held-out units' codes clearly better than the prior does, and fits them
  no worse; the best of those wins. So a weak or noisy learnt part can never pull the ranking below
  zero-shot.
* **Thresholds** per code (from the held-out probabilities) turn the ranking into a predicted set: several
  codes when the researcher has coded units with several, none ("no code applies") when the researcher has
  said so for some units.

Every similarity is made relative within a unit (a z-score across the codes): with E5, unrelated texts
still score ~0.8, so only the differences between codes carry information.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from pydantic import ConfigDict, Field
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from groundcode.domain import Model

Matrix = NDArray[np.float64]
ClassifierScores = tuple[Matrix, Matrix]
"""A classifier's scores of units: ``(log-probabilities, has-classifier indicator)``, (units, codes) each."""

ZERO_SHOT_TEMPERATURE = 0.01
"""Softmax temperature on the cosine scale for zero-shot confidences: 0.01 closer weighs e times more."""
MIN_UNITS_TO_CALIBRATE = 4
"""Decided units needed before confidences are calibrated on them (the prior's ranking kept)."""
MIN_UNITS_TO_LEARN = 15
"""Decided units needed before learnt evidence may change the ranking: with fewer, the cross-validated gain
and its standard error are too noisy to trust (noise labels passed the test at 11 units)."""
MIN_CLASSIFIER_EXAMPLES = 3
"""Positives and negatives a code needs before it gets its own one-vs-rest classifier (multi-code units)."""
FOLDS = 5
ONE_BLAS_THREAD = 1
"""The matrices here are small: BLAS threads cost far more in hand-offs than they save (6x on 2 cores)."""
STRICTNESS = 1.3
"""How many standard errors the held-out ranking gain of a learnt subset must clear. Three subsets are tried,
so 1.0 (a one-sided 84% test) let noise labels through too often (`noise_ci_claims` fell 0.04 below the first
suggestions and cost decisions); 1.645 kept learning off on code-image until half the units were reviewed
although it helped from a fifth on. Noise is also kept out by the 15-unit minimum and the log-likelihood
check (eval/RESULTS.md)."""
PROTOTYPE_PRIOR_WEIGHT = 1.0
"""How many coded units the definition counts as in a code's prototype."""
FEATURES = ("prior", "centred", "prototype", "knn", "prevalence", "classifier", "has_classifier")
PRIOR_ONLY: tuple[int, ...] = (0,)
CENTRED: tuple[int, ...] = (0, 1)
CLASSIFIER_FEATURES: tuple[int, ...] = (5, 6)
ALL_FEATURES: tuple[int, ...] = tuple(range(len(FEATURES)))
LEARNT_SUBSETS = (CENTRED, tuple(i for i in ALL_FEATURES if i != 1), ALL_FEATURES)
"""What cross-validation tries against the prior alone. The learnt evidence both with and without the
centred prior: on projects where centring does not help, one more weak feature kept learning off longer
(code-image at a fifth reviewed: 2 review orders in 5 instead of 4)."""


class LabelledUnit(Model):
    """A unit a researcher decided: its embedding and the codes in force on it (empty: no code applies)."""

    embedding: list[float]
    code_ids: frozenset[str]


class Classifiers:
    """A supervised classifier over some codes (the others have none): scores per code are log-probabilities
    that the code applies."""

    def __init__(self, codes: list[int], columns: list[int], model: Pipeline | OneVsRestClassifier) -> None:
        self.codes = codes  # the codebook columns it scores
        self.columns = columns  # the model's probability column of each
        self.model = model

    def decisions(self, units: Matrix, n_codes: int) -> ClassifierScores:
        """``(log-probabilities, has-classifier indicator)``, ``(units, codes)`` each."""
        values = np.zeros((len(units), n_codes))
        present = np.zeros((len(units), n_codes))
        values[:, self.codes] = self._log_probabilities(units)[:, self.columns]
        present[:, self.codes] = 1.0
        return values, present

    def _log_probabilities(self, units: Matrix) -> Matrix:
        if isinstance(self.model, OneVsRestClassifier):  # log(sigmoid(d)), without underflow
            decisions = np.asarray(self.model.decision_function(units), dtype=np.float64)
            return np.asarray(-np.logaddexp(0.0, -decisions.reshape(len(units), -1)), dtype=np.float64)
        return np.asarray(self.model.predict_log_proba(units), dtype=np.float64)


class LearntCoder(Model):
    """What was learnt from a coder's decisions, ready to score new units."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    code_ids: list[str]
    units: int = 0
    learnt: bool = False  # the learnt features are used (cross-validation said they help)
    features: tuple[int, ...] = PRIOR_ONLY
    weights: list[float] = Field(default_factory=list)  # combiner coefficients, one per feature
    intercept: float = 0.0
    thresholds: list[float] = Field(default_factory=list)  # per code; empty: predict the top code only
    max_codes: int = 1
    predicts_none: bool = False
    cv_mrr_prior: float | None = None
    cv_mrr_learnt: float | None = None
    # Training data the learnt features need at scoring time (kept as arrays, never serialised).
    examples: Matrix | None = None
    labels: NDArray[np.bool_] | None = None
    classifiers: Classifiers | None = None

    def probabilities(self, units: Matrix, code_vectors: Matrix) -> Matrix:
        """P(code applies) for every unit (row) and code (column)."""
        with threadpool_limits(limits=ONE_BLAS_THREAD):
            return self._probabilities(units, code_vectors)

    def _probabilities(self, units: Matrix, code_vectors: Matrix) -> Matrix:
        prior = cosine(units, code_vectors)
        if not self.weights:
            return softmax_rows(prior / ZERO_SHOT_TEMPERATURE)
        evidence = Evidence.build(code_vectors, self.examples, self.labels, self.classifiers)
        x = evidence.features(units, prior)[..., list(self.features)]
        logits = x @ np.asarray(self.weights) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-logits)), dtype=np.float64)

    def predicted(self, probabilities: Matrix) -> list[list[int]]:
        """The codes predicted to apply to each unit (column indices, most probable first)."""
        return [self._predicted_row(row) for row in probabilities]

    def _predicted_row(self, row: NDArray[np.float64]) -> list[int]:
        order = [int(i) for i in np.argsort(-row, kind="stable")]
        if not self.thresholds:
            return order[:1]
        passing = [i for i in order if row[i] >= self.thresholds[i]][: self.max_codes]
        if passing or self.predicts_none:
            return passing
        return order[:1]


class Evidence:
    """The learnt features of (unit, code) pairs, given the coded examples."""

    def __init__(
        self,
        code_vectors: Matrix,
        examples: Matrix,
        labels: NDArray[np.bool_],
        classifiers: Classifiers | None,
    ) -> None:
        self.codes = normalised(code_vectors)
        self._examples = examples
        self._labels = labels
        self._classifiers = classifiers

    @classmethod
    def build(
        cls,
        code_vectors: Matrix,
        examples: Matrix | None,
        labels: NDArray[np.bool_] | None,
        classifiers: Classifiers | None,
    ) -> Evidence:
        if examples is None or labels is None:
            examples = np.zeros((0, code_vectors.shape[1]))
            labels = np.zeros((0, code_vectors.shape[0]), dtype=bool)
        return cls(code_vectors, examples, labels, classifiers)

    def features(self, units: Matrix, prior: Matrix, *, themselves: bool = False) -> Matrix:
        """``(units, codes, features)``. ``themselves``: the units are the examples, and each one's own
        label must not vouch for it (leave-one-out, while the combiner is trained)."""
        labels = self._labels.astype(np.float64)
        own = labels if themselves else np.zeros((len(units), labels.shape[1]))
        similarity = cosine(units, self._examples)  # (units, examples)
        if themselves:
            np.fill_diagonal(similarity, -np.inf)
        # Prototype: the definition (weighted) plus the code's coded units, without the unit itself.
        sums = PROTOTYPE_PRIOR_WEIGHT * self.codes + labels.T @ self._examples  # (codes, dim)
        towards = normalised(units) @ sums.T - own
        length = (sums * sums).sum(axis=1)[None, :] - 2 * own * (towards + own) + own
        prototype = towards / np.sqrt(np.maximum(length, 1e-12))
        # kNN: the closest coded unit carrying the code (none yet: missing, then the unit's lowest).
        knn = np.full(prior.shape, np.nan)
        for code in range(labels.shape[1]):
            carriers = similarity[:, labels[:, code] > 0]
            if carriers.shape[1]:
                best = carriers.max(axis=1)
                knn[:, code] = np.where(np.isfinite(best), best, np.nan)
        seen = len(self._examples) - (1 if themselves else 0)
        prevalence = np.log((labels.sum(axis=0)[None, :] - own + 1.0) / (seen + prior.shape[1]))
        classifier, has_classifier = (
            self._classifiers.decisions(units, prior.shape[1])
            if self._classifiers is not None
            else (np.zeros(prior.shape), np.zeros(prior.shape))
        )
        units_centre, codes_centre = self._examples.mean(axis=0), self.codes.mean(axis=0)
        centred = cosine(normalised(units) - units_centre, self.codes - codes_centre)
        columns = [row_z(prior), row_z(centred), row_z(prototype), row_z(knn), prevalence]
        return np.stack([*columns, classifier, has_classifier], axis=2)


def fit_coder(code_ids: Sequence[str], code_vectors: Matrix, units: Sequence[LabelledUnit]) -> LearntCoder:
    """Learn from a coder's decided units; with too few, or when learning does not help on held-out
    units, the prior's ranking stays (with confidences calibrated on the decisions where there are any)."""
    with threadpool_limits(limits=ONE_BLAS_THREAD):
        return _fit_coder(code_ids, code_vectors, units)


def _fit_coder(code_ids: Sequence[str], code_vectors: Matrix, units: Sequence[LabelledUnit]) -> LearntCoder:
    index = {code_id: i for i, code_id in enumerate(code_ids)}
    usable = [u for u in units if u.code_ids <= index.keys()]
    if len(usable) < MIN_UNITS_TO_CALIBRATE or not any(u.code_ids for u in usable):
        return LearntCoder(code_ids=list(code_ids), units=len(usable))
    x = normalised(np.asarray([u.embedding for u in usable], dtype=np.float64))
    y = np.zeros((len(usable), len(code_ids)), dtype=bool)
    for row, unit in enumerate(usable):
        y[row, [index[c] for c in unit.code_ids]] = True
    codes = normalised(code_vectors)
    folds = np.arange(len(usable)) % min(FOLDS, len(usable))
    tried = (PRIOR_ONLY, *LEARNT_SUBSETS) if len(usable) >= MIN_UNITS_TO_LEARN else (PRIOR_ONLY,)
    scores = _out_of_fold_decisions(x, y, folds) if any(uses_classifier(s) for s in tried) else None
    held_out = {subset: _held_out_probabilities(codes, x, y, folds, subset, scores) for subset in tried}
    mrr = {subset: float(reciprocal_ranks(p, y).mean()) for subset, p in held_out.items()}
    helping = [s for s in tried[1:] if learning_helps(held_out[s], held_out[PRIOR_ONLY], y)]
    chosen = max(helping, key=mrr.__getitem__, default=PRIOR_ONLY)
    # A subset without the classifier reads no classifier score: fitting one would be wasted.
    classifiers = fit_classifiers(x, y) if uses_classifier(chosen) else None
    combiner = _fit_combiner(Evidence(codes, x, y, classifiers), x, y, chosen, scores)
    if chosen == PRIOR_ONLY and combiner.coef_[0][0] <= 0:
        # The decisions contradict the prior's ranking (noise, or too few): keep it, uncalibrated.
        return LearntCoder(code_ids=list(code_ids), units=len(usable))
    sizes = y.sum(axis=1)
    return LearntCoder(
        code_ids=list(code_ids),
        units=len(usable),
        learnt=chosen != PRIOR_ONLY,
        features=chosen,
        weights=[float(w) for w in combiner.coef_[0]],
        intercept=float(combiner.intercept_[0]),
        thresholds=best_thresholds(held_out[chosen], y),
        max_codes=max(1, int(sizes.max())),
        predicts_none=bool((sizes == 0).any()),
        cv_mrr_prior=mrr[PRIOR_ONLY],
        cv_mrr_learnt=max((mrr[subset] for subset in tried[1:]), default=None),
        examples=x,
        labels=y,
        classifiers=classifiers,
    )


def fit_classifiers(x: Matrix, y: NDArray[np.bool_]) -> Classifiers | None:
    """Logistic regression on the standardised embeddings (E5 vectors share a large common part; only
    their differences tell codes apart). When no decided unit has two codes: one multinomial model whose
    classes are the codes seen and, if some unit has none, "no code". Otherwise one-vs-rest over the codes
    with enough positives and negatives. None when there is nothing to tell apart."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class with one example: scikit-learn says so
        if (y.sum(axis=1) <= 1).all():
            return _multinomial(x, y)
        return _one_vs_rest(x, y)


def _multinomial(x: Matrix, y: NDArray[np.bool_]) -> Classifiers | None:
    none = y.shape[1]
    targets = np.where(y.any(axis=1), y.argmax(axis=1), none)
    if len(np.unique(targets)) < 2:
        return None
    model = _standardised_logistic().fit(x, targets)
    classes = [int(c) for c in model.classes_]
    columns = [column for column, code in enumerate(classes) if code != none]
    return Classifiers(codes=[classes[column] for column in columns], columns=columns, model=model)


def _one_vs_rest(x: Matrix, y: NDArray[np.bool_]) -> Classifiers | None:
    positives = y.sum(axis=0)
    codes = np.flatnonzero(np.minimum(positives, len(y) - positives) >= MIN_CLASSIFIER_EXAMPLES)
    if not len(codes):
        return None
    model = OneVsRestClassifier(_standardised_logistic()).fit(x, y[:, codes].astype(int))
    return Classifiers(codes=[int(c) for c in codes], columns=list(range(len(codes))), model=model)


def _standardised_logistic() -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))


def _fit_combiner(
    evidence: Evidence,
    x: Matrix,
    y: NDArray[np.bool_],
    subset: tuple[int, ...],
    scores: ClassifierScores | None,
) -> LogisticRegression:
    """The combiner on (unit, code) pairs, with each unit's own label left out of its features: the
    classifier's ``scores`` of the units come from classifiers fitted without them (in-sample scores
    of a classifier that separates its training units would earn it far more weight than it deserves)."""
    features = evidence.features(x, cosine(x, evidence.codes), themselves=True)
    if scores is not None:
        features[..., list(CLASSIFIER_FEATURES)] = np.stack(scores, axis=2)
    pairs = features[..., list(subset)].reshape(-1, len(subset))
    return LogisticRegression(C=1.0, max_iter=500).fit(pairs, y.reshape(-1))


def uses_classifier(subset: tuple[int, ...]) -> bool:
    return bool(set(subset) & set(CLASSIFIER_FEATURES))


def _out_of_fold_decisions(x: Matrix, y: NDArray[np.bool_], folds: NDArray[np.int64]) -> ClassifierScores:
    """The classifier's ``decisions`` for every unit, from classifiers fitted on the other folds."""
    values, present = np.zeros(y.shape), np.zeros(y.shape)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        classifiers = fit_classifiers(x[train], y[train])
        if classifiers is not None:
            values[test], present[test] = classifiers.decisions(x[test], y.shape[1])
    return values, present


def _held_out_probabilities(
    codes: Matrix,
    x: Matrix,
    y: NDArray[np.bool_],
    folds: NDArray[np.int64],
    subset: tuple[int, ...],
    scores: ClassifierScores | None,
) -> Matrix:
    """Probabilities for every decided unit from a model fitted without its fold (cross-validation).

    The classifier's ``scores`` are the out-of-fold ones on the same folds: a held-out unit's come from the
    classifier fitted without its fold, as in a nested cross-validation. The training units' come from
    classifiers that saw the held-out fold, which can only flatter the combiner's weight on them a little;
    it takes 6 scikit-learn fits per refit where nesting took 36."""
    found = np.zeros(y.shape)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        if not y[train].any():
            found[test] = softmax_rows(cosine(x[test], codes) / ZERO_SHOT_TEMPERATURE)
            continue
        evidence = Evidence(codes, x[train], y[train], None)
        training_scores = (scores[0][train], scores[1][train]) if scores is not None else None
        combiner = _fit_combiner(evidence, x[train], y[train], subset, training_scores)
        features = evidence.features(x[test], cosine(x[test], codes))
        if scores is not None:
            features[..., list(CLASSIFIER_FEATURES)] = np.stack((scores[0][test], scores[1][test]), axis=2)
        chosen = features[..., list(subset)].reshape(-1, len(subset))
        found[test] = combiner.predict_proba(chosen)[:, 1].reshape(-1, y.shape[1])
    return found


def best_thresholds(probabilities: Matrix, y: NDArray[np.bool_]) -> list[float]:
    """Per code, the probability cut-off that maximises its F1 on the held-out units; codes with fewer
    than two positives take the cut-off that maximises F1 over all codes together."""
    shared = _best_cut(probabilities.reshape(-1), y.reshape(-1))
    return [
        _best_cut(probabilities[:, code], y[:, code]) if y[:, code].sum() >= 2 else shared
        for code in range(y.shape[1])
    ]


def _best_cut(scores: NDArray[np.float64], truth: NDArray[np.bool_]) -> float:
    if not truth.any():
        return 1.0
    order = np.argsort(-scores, kind="stable")
    hits = np.cumsum(truth[order])
    f1 = 2 * hits / (np.arange(1, len(order) + 1) + truth.sum())
    best = int(np.argmax(f1))
    below = scores[order[best + 1]] if best + 1 < len(order) else 0.0
    return float((scores[order[best]] + below) / 2)


def reciprocal_ranks(probabilities: Matrix, y: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per unit with codes, 1 / the rank of its best-ranked code."""
    ranks = (-probabilities).argsort(axis=1).argsort(axis=1) + 1
    best = np.where(y, ranks, np.iinfo(np.int64).max).min(axis=1)
    return np.asarray(1.0 / best[y.any(axis=1)], dtype=np.float64)


def learning_helps(learnt: Matrix, prior: Matrix, y: NDArray[np.bool_]) -> bool:
    """Whether the held-out probabilities with the learnt features rank the decided codes clearly better
    than the prior's, without making them less likely (log-likelihood, a proper scoring rule): labels that
    carry no signal can win on ranks by chance, but then fit worse."""
    rank_gain = reciprocal_ranks(learnt, y) - reciprocal_ranks(prior, y)
    fit_gain = log_likelihoods(learnt, y) - log_likelihoods(prior, y)
    return clearly_positive(rank_gain) and float(fit_gain.mean()) > 0


def log_likelihoods(probabilities: Matrix, y: NDArray[np.bool_]) -> NDArray[np.float64]:
    """Per unit, the log-likelihood of its decided codes (each code applying or not)."""
    p = np.clip(probabilities, 1e-9, 1 - 1e-9)
    return np.asarray(np.where(y, np.log(p), np.log(1 - p)).sum(axis=1), dtype=np.float64)


def clearly_positive(differences: NDArray[np.float64]) -> bool:
    """The mean difference is above zero by ``STRICTNESS`` standard errors: learning must show it helps on
    held-out units, not merely tie or win by noise."""
    if len(differences) < 2:
        return False
    error = float(differences.std(ddof=1)) / np.sqrt(len(differences))
    return bool(differences.mean() > max(STRICTNESS * error, 1e-9))


def cosine(a: Matrix, b: Matrix) -> Matrix:
    return np.asarray(normalised(a) @ normalised(b).T, dtype=np.float64)


def normalised(vectors: Matrix) -> Matrix:
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.size == 0:
        return vectors
    return np.asarray(vectors / (np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12), dtype=np.float64)


def row_z(scores: Matrix) -> Matrix:
    """Each row as z-scores across its columns; a missing value (NaN) counts as the row's mean (z = 0)."""
    present = np.isfinite(scores)
    counts = present.sum(axis=1, keepdims=True)
    means = np.where(present, scores, 0.0).sum(axis=1, keepdims=True) / np.maximum(counts, 1)
    filled = np.where(present, scores, means)
    spread = filled.std(axis=1, keepdims=True)
    return np.asarray((filled - filled.mean(axis=1, keepdims=True)) / np.where(spread > 0, spread, 1.0))


def softmax_rows(logits: Matrix) -> Matrix:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(weights / weights.sum(axis=1, keepdims=True), dtype=np.float64)
