"""Offline open coding: key phrases as proposed code labels, and merging near-duplicate labels. Pure.

Extraction is RAKE-like, over the matching view of ``groundcode.textnorm`` (so Persian spelling
variants and half-spaces do not split a phrase): a candidate is a run of up to ``MAX_WORDS`` content
words between stopwords, punctuation and digits, scored by the rarity of its words across the texts
of the batch (inverse document frequency) and slightly favouring two- and three-word phrases. The
stopword lists below cover English and Persian function words and interview filler.

(``yake`` was considered: it is not installed here and needs its own Persian stopwords anyway; this
heuristic is small, deterministic and handles both languages the same way.)

These labels are much weaker than an LLM's: they name what a segment talks about, not what it means.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
from pydantic import Field

from groundcode.domain import Model
from groundcode.textnorm import normalize_for_matching, normalized_view_with_map, original_span

MAX_WORDS = 3
MIN_WORD_CHARS = 3

_ENGLISH = """
a about above after again against all also am an and any are aren't as at be because been before being
below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down
during each either else even ever every few for from further get gets getting go goes going gone got had
hadn't has hasn't have haven't having he her here hers herself him himself his how however i if in into
is isn't it it's its itself just let's like likely lot lots made make makes many may maybe me might more
most much must my myself need needs never no nor not now of off often on once one only or other others
ought our ours ourselves out over own per perhaps quite rather really said same say says see seems shall
she should shouldn't since so some something sometimes somebody still such sure than that that's the
their theirs them themselves then there there's these they they're thing things think this those though
through thus to too under until up upon us use used very via want was wasn't way we we're well were
weren't what what's when where whether which while who whom whose why will with within without won't
would wouldn't yes yet you your yours yourself basically honestly actually frankly okay ok mean means
know kind sort lot thank thanks time times first second third three four five interviewer participant
mainly partly mostly usually begin start started harder easier
"""

_PERSIAN = """
و در به از که این آن را با برای است هست نیست بود بودند باشد باشند شد شده شود شوند می‌شود می‌شوند
می‌کنیم می‌کنند می‌کند کرد کردند کردیم کنیم کنند کند کرده کردن دارد دارند داریم داشت داشتیم داشتند ندارد ندارند
هم یا اما ولی اگر تا چون چه چی چرا چطور کجا کی هر همه همین همان هیچ یک یکی دو سه چند خیلی بسیار بیشتر کمی
من ما تو شما او آنها آن‌ها ایشان خود خودمان خودشان خودتان ام ای ایم اید اند بر نیز دیگر دیگری باید نباید
شاید فقط حتی هنوز الان اکنون حالا وقتی زمانی بعد قبل بین روی زیر پیش پس درباره مثل مانند مثلاً واقعاً
راستش البته یعنی خب بله نه آره چیز چیزی کار کارها طور جا جایی است‌ها ها های ای‌ها بار بارها
خودش خودم حرف گاهی نسبتاً بعضی حاضر حال مصاحبه‌گر مصاحبه‌شونده گفت گفتم می‌گویم می‌گوید بگویم فکر می‌کنم
"""

STOPWORDS = frozenset(normalize_for_matching(word) for word in (_ENGLISH + _PERSIAN).split())
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


class KeyPhrase(Model):
    """A phrase of one text: exact offsets into that text, its surface form, and its score."""

    start: int = Field(ge=0)
    end: int
    text: str
    key: str  # the matching view: equal keys are the same phrase
    score: float


def extract_keyphrases(texts: Sequence[str], *, limit: int = 2) -> list[list[KeyPhrase]]:
    """The best ``limit`` key phrases of each text, best first (none for a text of stopwords only)."""
    candidates = [_candidates(text) for text in texts]
    document_frequency = Counter(word for found in candidates for word in {w for c in found for w in c[2]})
    documents = max(1, len(texts))
    results = []
    for text, found in zip(texts, candidates, strict=True):
        phrases: dict[str, KeyPhrase] = {}
        for start, end, words in found:
            rarity = sum(math.log(1 + documents / document_frequency[w]) for w in words) / len(words)
            score = rarity * (1 + 0.25 * (len(words) - 1))
            key = " ".join(words)
            if key not in phrases or phrases[key].score < score:
                phrases[key] = KeyPhrase(start=start, end=end, text=text[start:end], key=key, score=score)
        results.append(sorted(phrases.values(), key=lambda p: (-p.score, p.start))[:limit])
    return results


def _candidates(text: str) -> list[tuple[int, int, list[str]]]:
    """Runs of content words (at most ``MAX_WORDS``) with their original offsets and view words."""
    view, origin = normalized_view_with_map(text)
    runs: list[list[re.Match[str]]] = [[]]
    previous_end = 0
    for match in _WORD.finditer(view):
        word = match.group()
        gap = view[previous_end : match.start()]
        previous_end = match.end()
        if word in STOPWORDS or len(word) < MIN_WORD_CHARS or gap.strip():
            runs.append([])  # a stopword or punctuation ends the phrase
        if word not in STOPWORDS and len(word) >= MIN_WORD_CHARS:
            runs[-1].append(match)
    found = []
    for run in runs:
        for first in range(0, len(run), MAX_WORDS):
            words = run[first : first + MAX_WORDS]
            if words:
                start, end = original_span(text, origin, words[0].start(), words[-1].end())
                found.append((start, end, [w.group() for w in words]))
    return found


def label_for(phrase: KeyPhrase) -> str:
    """A phrase as a code label: its original words, first letter upper-cased, whitespace tidied."""
    label = " ".join(phrase.text.split())
    return label[:1].upper() + label[1:]


def merge_labels(
    counts: Mapping[str, int], vectors: Mapping[str, Sequence[float]], *, min_z: float = 2.0
) -> dict[str, str]:
    """Map every label to the label it merges into, so the proposed codebook does not explode.

    Labels with the same matching view merge. Beyond that, two labels merge when each is the other's
    nearest neighbour by embedding *and* their similarity stands out among all pairs (z-score of at
    least ``min_z``): a relative threshold, since absolute similarities are bunched. A group takes its
    most frequent label (then the shortest). ``vectors`` holds a vector per label in ``counts``.
    """
    labels = sorted(counts)
    parent = {label: label for label in labels}

    def root(label: str) -> str:
        while parent[label] != label:
            label = parent[label]
        return label

    def join(a: str, b: str) -> None:
        parent[root(a)] = root(b)

    first_by_key: dict[str, str] = {}
    for label in labels:
        join(label, first_by_key.setdefault(normalize_for_matching(label).strip(), label))
    distinct = list(first_by_key.values())  # one label per matching view: equal views embed alike
    if len(distinct) >= 3:
        matrix = np.asarray([vectors[label] for label in distinct], dtype=np.float64)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        similarity = matrix @ matrix.T
        np.fill_diagonal(similarity, -np.inf)
        pairs = similarity[np.triu_indices(len(distinct), k=1)]
        mean, spread = float(pairs.mean()), float(pairs.std())
        nearest = similarity.argmax(axis=1)
        for i, j in enumerate(nearest):
            z = (similarity[i, j] - mean) / spread if spread > 0 else 0.0
            if nearest[j] == i and i < j and z >= min_z:
                join(distinct[i], distinct[int(j)])
    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(root(label), []).append(label)
    merged = {}
    for members in groups.values():
        best = min(members, key=lambda label: (-counts[label], len(label), label))
        merged.update(dict.fromkeys(members, best))
    return merged
