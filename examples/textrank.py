"""Text into vectors, and extractive summarisation with TextRank: the helpers of the
summarization lesson (examples/summarization.py imports them, as every lesson imports
lesson.py). They are course material, not part of the library: fastnn keeps what a user
of a deep-learning library calls (``fastnn.similarity``) and leaves these beside the
lesson.

An extractive summary copies the most important sentences of a text. TextRank (Mihalcea
and Tarau, 2004) finds them without any training:

1. ``split_sentences``: the text into sentences.
2. ``tokenize`` (+ ``stem``) and ``tfidf_vectors``: each sentence into a TF-IDF vector,
   one number per word of the vocabulary; words that appear in few sentences weigh more.
3. ``fastnn.similarity.cosine_similarity``: how much each pair of sentences has in common.
4. ``textrank``: PageRank on the graph whose nodes are sentences and whose edge weights
   are those similarities. A sentence scores high when it resembles many sentences that
   themselves score high: it is central to the text.
5. ``summarize``: the ``n`` best-scoring sentences, in the order of the text.

``rouge_1`` measures how many words of a reference summary a summary recovers.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import Counter

import numpy as np

from fastnn import Tensor
from fastnn.similarity import cosine_similarity

# Function words that carry little of what a sentence is about. A short list written for
# this module (English); pass your own to ``tokenize`` / ``tfidf_vectors`` / ``summarize``.
ENGLISH_STOP_WORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for from
further had has have having he her here hers herself him himself his how i if in into is it
its itself just me more most my myself no nor not now of off on once only or other our ours
ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were
what when where which while who whom why will with would you your yours yourself yourselves
one two many much every even though yet still thus however within without upon
""".split())

# A sentence ends at ".", "!" or "?" (possibly followed by closing quotes or brackets), when
# what follows, after white space, is not a lowercase letter: "e.g. a net" stays one sentence.
_SENTENCE_END = re.compile(r"[.!?]+[\"'\u201d\u2019)\]]*(?=\s+[^\sa-z])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def _require_str(value, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    return value


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text``, in order, each stripped and with its white space collapsed.

    A sentence ends at ".", "!" or "?" (and any closing quotes or brackets right after it)
    followed by white space and then a character that is not a lowercase letter, or at a
    blank line (a paragraph break). Abbreviations followed by a capital ("Dr. Hinton") are
    therefore split; the rule is meant for plain prose, not for every text.
    """
    _require_str(text, "text")
    sentences = []
    for paragraph in _PARAGRAPH_BREAK.split(text):
        start = 0
        for end in _SENTENCE_END.finditer(paragraph):
            sentences.append(paragraph[start:end.end()])
            start = end.end()
        sentences.append(paragraph[start:])
    return [" ".join(s.split()) for s in sentences if s.strip()]


def _stop_word_set(stop_words) -> frozenset:
    if stop_words is None:
        return frozenset()
    if isinstance(stop_words, str):
        raise TypeError("stop_words must be a collection of words (e.g. a set or list), got a str; "
                        "pass [word] for a single word")
    try:
        words = frozenset(stop_words)
    except TypeError:
        raise TypeError(f"stop_words must be a collection of words or None, "
                        f"got {type(stop_words).__name__}") from None
    bad = [w for w in words if not isinstance(w, str)]
    if bad:
        raise TypeError(f"stop_words must hold str words, got {type(bad[0]).__name__} {bad[0]!r}")
    return frozenset(w.lower() for w in words)


def stem(word: str) -> str:
    """A crude stem of a lowercase ``word``, so that "network" and "networks", "train",
    "trained" and "training" count as one word. The rules, applied once, in order:

    0. a possessive "'s" is removed ("network's" -> "network");
    1. words of at most 3 letters are kept as they are;
    2. "-ies" becomes "-y" ("studies" -> "study");
    3. otherwise the first of "-ing", "-ed", "-s" that ends the word is removed if at least
       4 letters remain for "-ing"/"-ed" and 3 for "-s", but "-s" after s, u or i stays
       ("loss", "bus", "analysis"); a doubled final consonant other than l, s, z left by
       "-ing"/"-ed" is halved ("stopped" -> "stop");
    4. a final "e" is removed from what is left if more than 3 letters remain
       ("image", "images" -> "imag").

    Far simpler than Porter's stemmer (which ROUGE usually uses) and sometimes wrong, but
    it merges the plural and verb forms that matter when counting shared words.
    """
    _require_str(word, "word")
    if word.endswith("'s"):
        word = word[:-2]
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    for suffix, shortest in (("ing", 4), ("ed", 4), ("s", 3)):
        if not word.endswith(suffix):
            continue
        base = word[:-len(suffix)]
        if len(base) < shortest or (suffix == "s" and base.endswith(("s", "u", "i"))):
            break
        if suffix != "s" and base[-1] == base[-2] and base[-1] not in "lsz":
            base = base[:-1]
        word = base
        break
    if word.endswith("e") and len(word) > 4:
        word = word[:-1]
    return word


def tokenize(text: str, stop_words=None, stemmed: bool = False) -> list[str]:
    """The words of ``text``, lowercased, in order: runs of letters and digits, with an
    apostrophe kept inside a word ("network's"). Other characters separate words
    ("back-propagation" gives "back", "propagation").

    ``stop_words``: words to leave out (any case, compared before stemming), e.g.
    ``ENGLISH_STOP_WORDS``; None keeps all. ``stemmed=True`` replaces each word by its
    ``stem``.
    """
    _require_str(text, "text")
    drop = _stop_word_set(stop_words)
    words = [word for word in _WORD.findall(text.lower()) if word not in drop]
    return [stem(word) for word in words] if stemmed else words


def _require_sentences(sentences, name="sentences") -> list[str]:
    if isinstance(sentences, str):
        raise TypeError(f"{name} must be a list of str sentences, got a single str; "
                        f"split a text with split_sentences(text) first")
    if not isinstance(sentences, (list, tuple)):
        raise TypeError(f"{name} must be a list of str sentences, got {type(sentences).__name__}")
    if len(sentences) == 0:
        raise ValueError(f"{name} must hold at least one sentence, got an empty {type(sentences).__name__}")
    for i, sentence in enumerate(sentences):
        if not isinstance(sentence, str):
            raise TypeError(f"{name}[{i}] must be a str, got {type(sentence).__name__}")
    return list(sentences)


def tfidf_vectors(sentences, stop_words=None, stemmed: bool = False):
    """TF-IDF vectors of ``sentences`` (a list of str): returns ``(matrix, vocabulary)``.

    ``vocabulary`` is the sorted list of the distinct words (``tokenize(s, stop_words, stemmed)``) of
    all N sentences; ``matrix`` is float64 of shape (N, len(vocabulary)), with

        matrix[d, t] = tf(t, d) * idf(t)
        tf(t, d)     = how many times word t occurs in sentence d
        idf(t)       = ln((1 + N) / (1 + df(t))) + 1,   df(t) = the number of sentences holding t

    (the "smoothed" idf, as scikit-learn's ``TfidfVectorizer(norm=None)``: the +1 inside
    acts as one extra sentence holding every word, so no idf divides by zero, and the +1
    outside keeps a word found in every sentence at weight 1 rather than 0). Rows are not
    normalised: cosine similarity ignores their lengths anyway. A sentence with no words
    left (all stop words) is a zero row.
    """
    sentences = _require_sentences(sentences)
    tokens = [tokenize(s, stop_words, stemmed) for s in sentences]
    vocabulary = sorted({word for words in tokens for word in words})
    column = {word: j for j, word in enumerate(vocabulary)}
    counts = np.zeros((len(sentences), len(vocabulary)), dtype=np.float64)
    for d, words in enumerate(tokens):
        for word, count in Counter(words).items():
            counts[d, column[word]] = count
    n = len(sentences)
    document_frequency = (counts > 0).sum(axis=0)
    idf = np.log((1.0 + n) / (1.0 + document_frequency)) + 1.0
    return counts * idf, vocabulary


def _real_in(value, name, low, high, high_open=True):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not (low <= value < high if high_open else low < value <= high):
        interval = f"[{low}, {high})" if high_open else f"({low}, {high}]"
        raise ValueError(f"{name} must be in {interval}, got {value}")
    return float(value)


def _require_graph(similarity) -> np.ndarray:
    if isinstance(similarity, Tensor):
        similarity = similarity.numpy()
    weights = np.asarray(similarity)
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"similarity must be a matrix of real numbers, got dtype {weights.dtype}")
    if weights.ndim != 2 or weights.shape[0] != weights.shape[1] or weights.shape[0] == 0:
        raise ValueError(f"similarity must be a square matrix (n, n) with n >= 1, got shape {weights.shape}")
    weights = weights.astype(np.float64)
    if not np.isfinite(weights).all():
        raise ValueError("similarity must hold finite numbers, got nan or inf")
    if (weights < 0).any():
        row, column = np.argwhere(weights < 0)[0]
        raise ValueError(f"similarity must be non-negative (edge weights), got similarity[{row}, {column}] = "
                         f"{weights[row, column]}; clip negative cosines first, np.clip(similarity, 0, None)")
    return weights


def transition_matrix(similarity) -> np.ndarray:
    """The random walk of TextRank on a weighted graph: T[j, i] = w_ji / sum_k w_jk.

    ``similarity`` (n, n) holds the non-negative edge weights w; its diagonal is ignored (a
    sentence does not vote for itself). Row j of T is where a walker at node j steps next,
    in proportion to the weights; a node with no edges (row sum 0) steps to every node
    with probability 1/n. Every row of T sums to 1.
    """
    weights = _require_graph(similarity).copy()
    np.fill_diagonal(weights, 0.0)
    n = weights.shape[0]
    out_weight = weights.sum(axis=1, keepdims=True)
    uniform = np.full_like(weights, 1.0 / n)
    return np.divide(weights, out_weight, out=uniform, where=out_weight > 0)


def textrank(similarity, damping: float = 0.85, tol: float = 1e-10, max_iter: int = 1000) -> np.ndarray:
    """TextRank scores of the n nodes of a weighted graph: PageRank by power iteration.

    With T = ``transition_matrix(similarity)`` and d = ``damping``, the scores s solve

        s_i = (1 - d) / n + d * sum_j T[j, i] s_j            (s = (1 - d)/n + d T^T s)

    A random surfer follows an edge with probability d (choosing it in proportion to its
    weight) and jumps to a random node with probability 1 - d; s_i is the share of time it
    spends at node i. Starting from s = 1/n, the update above is repeated until the scores
    change by less than ``tol`` (sum of absolute changes); each step shrinks the error by a
    factor d, so d < 1 always converges. The scores are positive and sum to 1: they are the
    leading eigenvector (eigenvalue 1) of the column-stochastic matrix
    G = d T^T + (1 - d)/n (all ones), normalised to sum 1. (Mihalcea and Tarau write the
    same recurrence without the 1/n; their scores are these times n.)

    ``similarity``: (n, n) non-negative weights, numpy or a fastnn tensor; need not be
    symmetric. Raises RuntimeError if ``max_iter`` steps do not reach ``tol``.
    """
    transition = transition_matrix(similarity)
    damping = _real_in(damping, "damping", 0.0, 1.0)
    tol = _real_in(tol, "tol", 0.0, math.inf, high_open=False)
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    n = transition.shape[0]
    scores = np.full(n, 1.0 / n)
    for _ in range(int(max_iter)):
        updated = (1.0 - damping) / n + damping * (transition.T @ scores)
        change = np.abs(updated - scores).sum()
        scores = updated
        if change < tol:
            return scores
    raise RuntimeError(f"textrank did not converge to tol={tol} in max_iter={max_iter} steps "
                       f"(last change {change:.3g}); raise max_iter or tol")


def rank_sentences(sentences, stop_words=ENGLISH_STOP_WORDS, stemmed: bool = True, damping: float = 0.85):
    """TextRank scores of ``sentences`` (a list of str), and the similarity graph they come from.

    Returns ``(scores, similarity)``: ``similarity`` (N, N) is the cosine similarity of the
    sentences' TF-IDF vectors (``tfidf_vectors(sentences, stop_words, stemmed)``: by default
    without stop words and with word endings stripped, so that sentences are compared by
    the content words they share), ``scores`` (N,)
    is ``textrank(similarity, damping)`` and sums to 1.
    """
    vectors, _ = tfidf_vectors(sentences, stop_words, stemmed)
    similarity = cosine_similarity(vectors)
    return textrank(similarity, damping), similarity


def summarize(text: str, n_sentences: int = 3, stop_words=ENGLISH_STOP_WORDS, stemmed: bool = True,
              damping: float = 0.85) -> list[str]:
    """The ``n_sentences`` sentences of ``text`` with the highest TextRank scores, in text order.

    ``split_sentences`` -> ``rank_sentences(sentences, stop_words, stemmed, damping)`` -> the
    best ``n_sentences`` (equal scores: the earlier sentence first) -> sorted back into the
    order they appear in the text, so the summary reads as the text does. Raises ValueError
    when ``n_sentences`` is not in [1, number of sentences].
    """
    sentences = split_sentences(text)
    if isinstance(n_sentences, bool) or not isinstance(n_sentences, numbers.Integral):
        raise TypeError(f"n_sentences must be an int, got {type(n_sentences).__name__} {n_sentences!r}")
    if not 1 <= n_sentences <= len(sentences):
        raise ValueError(f"n_sentences must be in [1, {len(sentences)}] (the text has {len(sentences)} "
                         f"sentences), got {n_sentences}")
    scores, _ = rank_sentences(sentences, stop_words, stemmed, damping)
    best = np.argsort(-scores, kind="stable")[:n_sentences]
    return [sentences[i] for i in sorted(best)]


def rouge_1(candidate: str, reference: str, stop_words=None, stemmed: bool = False) -> dict:
    """ROUGE-1 (Lin, 2004): how many words of ``reference`` the ``candidate`` text recovers.

    With c(w) and r(w) the counts of word w in the tokens
    (``tokenize(text, stop_words, stemmed)``) of the candidate and of the reference,

        overlap   = sum_w min(c(w), r(w))          (a word counts at most as often as the reference has it)
        recall    = overlap / (number of reference tokens)
        precision = overlap / (number of candidate tokens)      (0 for an empty candidate)
        f1        = 2 precision recall / (precision + recall)   (0 when both are 0)

    Returns ``{"recall": ..., "precision": ..., "f1": ...}`` (floats). Raises ValueError when
    the reference has no tokens.
    """
    _require_str(candidate, "candidate")
    _require_str(reference, "reference")
    candidate_counts = Counter(tokenize(candidate, stop_words, stemmed))
    reference_counts = Counter(tokenize(reference, stop_words, stemmed))
    reference_total = sum(reference_counts.values())
    if reference_total == 0:
        raise ValueError("reference must contain at least one word (after stop words), got none")
    overlap = sum(min(count, reference_counts[word]) for word, count in candidate_counts.items())
    candidate_total = sum(candidate_counts.values())
    recall = overlap / reference_total
    precision = overlap / candidate_total if candidate_total else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"recall": float(recall), "precision": float(precision), "f1": float(f1)}
