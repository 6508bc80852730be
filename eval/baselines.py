"""What simple methods get on a coded dataset, by code independent of groundcode's suggesters (nothing from
``services.suggestion``): the same bundled embedder, then

* ``nearest_code``: zero-shot, codes ranked by cosine between the unit (as a query) and the code's name,
  definition, inclusion criteria and examples (as a passage); the predicted set is the nearest code;
* ``logistic``: supervised, scikit-learn logistic regression on the frozen unit embeddings, trained on the
  units reviewed so far. Multi-label data: one-vs-rest, the predicted set is every code with p >= 0.5.
  Single-label data (no unit has two gold codes): one multinomial model whose classes include "no code"
  when some unit has none; the predicted set is the most probable class.

A unit that may only take some codes (``allowed``) is ranked and predicted among those only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from eval.metrics import Label
from eval.scoring import Answer, Codes, Matrix, indicator
from groundcode.domain import Code
from services.retrieval.embeddings import Embedder

Vectors = NDArray[np.float64]


def code_passage(code: Code) -> str:
    """What a code is embedded as: its name, definition, inclusion criteria and examples."""
    return "\n".join(part for part in (code.name, code.definition, code.inclusion, *code.examples) if part)


def embed(embedder: Embedder, texts: Sequence[str], codes: Sequence[Code]) -> tuple[Vectors, Vectors]:
    """Unit vectors (queries) and code vectors (passages), each of length one."""

    def unit_length(vectors: list[list[float]]) -> Vectors:
        array = np.asarray(vectors, dtype=np.float64)
        lengths: Vectors = np.linalg.norm(array, axis=1, keepdims=True)
        return array / lengths

    passages = [code_passage(code) for code in codes]
    return unit_length(embedder.embed_queries(texts)), unit_length(embedder.embed_passages(passages))


def nearest_code(units: Vectors, codes: Vectors, keys: Sequence[Label], allowed: Matrix) -> list[Answer]:
    """Each unit's allowed codes by cosine, best first; the predicted set is the best one."""
    return _answers(units @ codes.T, keys, allowed, threshold=None)


def logistic(
    units: Vectors,
    gold: Sequence[Codes],
    train: Sequence[int],
    keys: Sequence[Label],
    allowed: Matrix,
    *,
    single_label: bool,
    seed: int,
) -> list[Answer]:
    """Every unit's answer from logistic regression trained on the ``train`` units' gold (empty
    answers when there is nothing to train on)."""
    if not train:
        return [Answer(ranked=[], predicted=[]) for _ in units]
    rows = list(train)
    # One BLAS thread: these matrices are small, and threads only contend (ten times slower on 2 cores).
    with threadpool_limits(1):
        scores = (_single if single_label else _multi)(units, [gold[row] for row in rows], rows, keys, seed)
    if single_label:
        return _answers(scores[:, :-1], keys, allowed, threshold=None, none=scores[:, -1])
    return _answers(scores, keys, allowed, threshold=0.5)


def _model(seed: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))


def _multi(
    units: Vectors, gold: Sequence[Codes], rows: list[int], keys: Sequence[Label], seed: int
) -> Vectors:
    """Units x codes: p(code applies), one-vs-rest (a code constant in training keeps its constant)."""
    targets = indicator(gold, keys).astype(int)
    classifier = OneVsRestClassifier(_model(seed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "label not present in all training examples": a constant
        classifier.fit(units[rows], targets)
    return np.asarray(classifier.predict_proba(units), dtype=float)


def _single(
    units: Vectors, gold: Sequence[Codes], rows: list[int], keys: Sequence[Label], seed: int
) -> Vectors:
    """Units x (codes, "no code"): class probabilities, 0 for a class never seen in training."""
    targets = [keys.index(next(iter(codes))) if codes else len(keys) for codes in gold]
    scores = np.zeros((len(units), len(keys) + 1))
    seen = sorted(set(targets))
    if len(seen) == 1:
        scores[:, seen[0]] = 1.0
        return scores
    classifier = _model(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few units per class early on: scikit-learn says so
        classifier.fit(units[rows], targets)
    scores[:, seen] = classifier.predict_proba(units)
    return scores


def _answers(
    scores: Vectors,
    keys: Sequence[Label],
    allowed: Matrix,
    *,
    threshold: float | None,
    none: Vectors | None = None,
) -> list[Answer]:
    """Ranked answers from units x codes scores among the allowed codes. The predicted set: the codes at or
    above ``threshold``, else the best one unless ``none`` (the "no code" score) beats it."""
    answers = []
    for unit, row in enumerate(scores):
        order = [int(i) for i in np.argsort(-row, kind="stable") if allowed[unit, i]]
        ranked = [keys[i] for i in order]
        if threshold is not None:
            predicted = [keys[i] for i in order if row[i] >= threshold]
        else:
            beaten = none is not None and order and none[unit] > row[order[0]]
            predicted = ranked[:1] if not beaten else []
        answers.append(Answer(ranked=ranked, predicted=predicted, confidences=[float(row[i]) for i in order]))
    return answers
