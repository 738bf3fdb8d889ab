"""examples/textrank.py (the summarization lesson's helpers): sentences, words, stems,
TF-IDF (by hand and against scikit-learn), TextRank (against the leading eigenvector
from numpy.linalg.eig), summaries and ROUGE-1 (by hand), their errors, and the bundled
essay of fastnn.datasets.texts."""

import math

import numpy as np
import pytest

import fastnn as fnn
from example_scripts import import_helper

from fastnn.datasets.texts import load_summarization_text, read_text

_textrank = import_helper("textrank")
(ENGLISH_STOP_WORDS, rank_sentences, rouge_1, split_sentences, stem, summarize, textrank, tfidf_vectors, tokenize,
 transition_matrix) = (getattr(_textrank, name) for name in (
    "ENGLISH_STOP_WORDS", "rank_sentences", "rouge_1", "split_sentences", "stem", "summarize", "textrank",
    "tfidf_vectors", "tokenize", "transition_matrix"))


# -- sentences and words ------------------------------------------------------------------------------------------
def test_split_sentences_by_hand():
    text = "Hello world. This is it!  Really?\nYes, really.\n\nA new paragraph without a stop\n\nLast one."
    assert split_sentences(text) == ["Hello world.", "This is it!", "Really?", "Yes, really.",
                                     "A new paragraph without a stop", "Last one."]


def test_split_sentences_keeps_lowercase_continuations_decimals_and_closing_quotes():
    text = 'Use e.g. a net with 3.5 layers. He said "stop." Then it stopped.'
    assert split_sentences(text) == ["Use e.g. a net with 3.5 layers.", 'He said "stop."', "Then it stopped."]


def test_split_sentences_of_nothing_is_empty():
    assert split_sentences("") == []
    assert split_sentences("  \n\n ") == []


def test_tokenize_lowercases_splits_and_drops_stop_words():
    text = "The network's back-propagation, in 1986: LEARNED weights!"
    assert tokenize(text) == ["the", "network's", "back", "propagation", "in", "1986", "learned", "weights"]
    assert tokenize(text, stop_words=ENGLISH_STOP_WORDS) == ["network's", "back", "propagation", "1986",
                                                              "learned", "weights"]
    assert tokenize(text, stop_words={"THE", "In"}, stemmed=True) == ["network", "back", "propagation", "1986",
                                                                       "learn", "weight"]


@pytest.mark.parametrize("word, expected", [
    ("network", "network"), ("networks", "network"), ("train", "train"), ("trained", "train"),
    ("training", "train"), ("layers", "layer"), ("studies", "study"), ("stopped", "stop"), ("running", "run"),
    ("called", "call"), ("passed", "pass"), ("loss", "loss"), ("bus", "bus"), ("analysis", "analysis"),
    ("image", "imag"), ("images", "imag"), ("use", "use"), ("uses", "use"), ("used", "used"), ("this", "this"),
    ("the", "the"), ("cats", "cat"), ("network's", "network"), ("it's", "it"),
])
def test_stem_rules(word, expected):
    assert stem(word) == expected


@pytest.mark.parametrize("call, error, words", [
    (lambda: split_sentences(3), TypeError, ["text must be a str", "int"]),
    (lambda: tokenize(b"bytes"), TypeError, ["text must be a str", "bytes"]),
    (lambda: tokenize("a b", stop_words="the"), TypeError, ["stop_words", "got a str"]),
    (lambda: tokenize("a b", stop_words=5), TypeError, ["stop_words", "int"]),
    (lambda: tokenize("a b", stop_words=["a", 1]), TypeError, ["stop_words must hold str", "int"]),
    (lambda: stem(None), TypeError, ["word must be a str", "NoneType"]),
])
def test_text_errors(call, error, words):
    with pytest.raises(error) as caught:
        call()
    for word in words:
        assert word in str(caught.value)


# -- TF-IDF ------------------------------------------------------------------------------------------------------
def test_tfidf_by_hand():
    matrix, vocabulary = tfidf_vectors(["a b b", "a c", "a"])
    assert vocabulary == ["a", "b", "c"]
    # N = 3; df(a) = 3 -> idf 1; df(b) = df(c) = 1 -> idf ln(4/2) + 1
    rare = math.log(2.0) + 1.0
    np.testing.assert_allclose(matrix, [[1, 2 * rare, 0], [1, 0, rare], [1, 0, 0]], rtol=1e-15)
    assert matrix.dtype == np.float64


def test_tfidf_matches_scikit_learn_on_the_bundled_essay():
    feature_extraction = pytest.importorskip("sklearn.feature_extraction.text")
    sentences = split_sentences(load_summarization_text()[0])
    for stemmed in (False, True):
        matrix, vocabulary = tfidf_vectors(sentences, ENGLISH_STOP_WORDS, stemmed)
        reference = feature_extraction.TfidfVectorizer(
            tokenizer=lambda s: tokenize(s, ENGLISH_STOP_WORDS, stemmed), lowercase=False, token_pattern=None,
            norm=None, smooth_idf=True, sublinear_tf=False)
        expected = reference.fit_transform(sentences).toarray()
        assert vocabulary == list(reference.get_feature_names_out())
        np.testing.assert_allclose(matrix, expected, rtol=1e-12)


def test_tfidf_sentence_of_only_stop_words_is_a_zero_row():
    matrix, vocabulary = tfidf_vectors(["the cat", "of the"], stop_words=ENGLISH_STOP_WORDS)
    assert vocabulary == ["cat"]
    np.testing.assert_array_equal(matrix[1], [0.0])


@pytest.mark.parametrize("sentences, error, words", [
    ("one sentence.", TypeError, ["list of str sentences", "split_sentences"]),
    ([], ValueError, ["at least one sentence"]),
    (["fine", 3], TypeError, ["sentences[1] must be a str", "int"]),
    ({"a"}, TypeError, ["list of str sentences", "set"]),
])
def test_tfidf_errors(sentences, error, words):
    with pytest.raises(error) as caught:
        tfidf_vectors(sentences)
    for word in words:
        assert word in str(caught.value)


# -- TextRank ----------------------------------------------------------------------------------------------------
def pagerank_by_eig(weights, damping):
    """The leading eigenvector of G = d T^T + (1 - d)/n, with T built here from the definition."""
    weights = np.array(weights, dtype=np.float64)
    n = len(weights)
    np.fill_diagonal(weights, 0.0)
    transition = np.empty_like(weights)
    for j in range(n):
        total = weights[j].sum()
        transition[j] = weights[j] / total if total > 0 else 1.0 / n
    google = damping * transition.T + (1.0 - damping) / n
    values, vectors = np.linalg.eig(google)
    leading = np.real(vectors[:, np.argmax(np.real(values))])
    return leading / leading.sum()


TINY_GRAPH = [[1.0, 0.5, 0.2, 0.0],
              [0.5, 1.0, 0.3, 0.1],
              [0.2, 0.3, 1.0, 0.0],
              [0.0, 0.1, 0.0, 1.0]]


@pytest.mark.parametrize("damping", [0.85, 0.5, 0.0])
def test_textrank_is_the_leading_eigenvector_of_the_google_matrix(damping):
    scores = textrank(TINY_GRAPH, damping=damping, tol=1e-14)
    np.testing.assert_allclose(scores, pagerank_by_eig(TINY_GRAPH, damping), rtol=1e-10)
    assert scores.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.all(scores > 0)


def test_textrank_on_a_directed_graph_with_a_dangling_node():
    weights = [[0, 1, 1, 0],
               [0, 0, 1, 0],
               [1, 0, 0, 0],
               [0, 0, 0, 0]]   # node 3 has no edges: the walker jumps anywhere from it
    np.testing.assert_allclose(textrank(weights, tol=1e-14), pagerank_by_eig(weights, 0.85), rtol=1e-10)


def test_textrank_hand_checked_cases():
    # a complete graph with equal weights: no node is special
    np.testing.assert_allclose(textrank(np.ones((5, 5))), 0.2, rtol=1e-12)
    # damping 0: only random jumps
    np.testing.assert_allclose(textrank(TINY_GRAPH, damping=0.0), 0.25, rtol=1e-15)
    # a star: the centre gets the most, the leaves share the rest equally
    star = np.zeros((4, 4))
    star[0, 1:] = star[1:, 0] = 1.0
    scores = textrank(star, tol=1e-14)
    # the centre receives everything the leaves pass on: s0 = 0.15/4 + 0.85 * 3 s_leaf, 3 s_leaf = 1 - s0
    assert scores[0] == pytest.approx((0.15 / 4 + 0.85) / 1.85, rel=1e-10)
    np.testing.assert_allclose(scores[1:], (1 - scores[0]) / 3, rtol=1e-10)


def test_textrank_ignores_the_diagonal_and_takes_tensors(rng_restored):
    changed = np.array(TINY_GRAPH)
    np.fill_diagonal(changed, 7.0)
    np.testing.assert_allclose(textrank(changed), textrank(TINY_GRAPH), rtol=1e-15)
    with fnn.use_backend("numpy"):
        np.testing.assert_allclose(textrank(fnn.tensor(np.array(TINY_GRAPH))), textrank(TINY_GRAPH), rtol=1e-15)


def test_transition_rows_sum_to_one():
    t = transition_matrix([[0, 2, 2], [1, 0, 0], [0, 0, 0]])
    np.testing.assert_allclose(t, [[0, 0.5, 0.5], [1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], rtol=1e-15)


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(similarity=np.ones((2, 3))), ValueError, ["square matrix", "(2, 3)"]),
    (dict(similarity=np.ones(3)), ValueError, ["square matrix", "(3,)"]),
    (dict(similarity=[[1, -0.5], [-0.5, 1]]), ValueError, ["non-negative", "similarity[0, 1] = -0.5", "np.clip"]),
    (dict(similarity=[[1, np.nan], [0, 1]]), ValueError, ["finite"]),
    (dict(similarity=[["a"]]), TypeError, ["real numbers"]),
    (dict(similarity=TINY_GRAPH, damping=1.0), ValueError, ["damping must be in [0.0, 1.0)", "got 1.0"]),
    (dict(similarity=TINY_GRAPH, damping="0.85"), TypeError, ["damping must be a real number", "str"]),
    (dict(similarity=TINY_GRAPH, tol=0.0), ValueError, ["tol must be in (0.0, inf]"]),
    (dict(similarity=TINY_GRAPH, max_iter=0), ValueError, ["max_iter must be a positive int", "got 0"]),
    (dict(similarity=TINY_GRAPH, max_iter=2, tol=1e-15), RuntimeError, ["did not converge", "max_iter=2"]),
])
def test_textrank_errors(kwargs, error, words):
    with pytest.raises(error) as caught:
        textrank(**kwargs)
    for word in words:
        assert word in str(caught.value)


# -- summaries ---------------------------------------------------------------------------------------------------
HUB_TEXT = ("Cats chase mice. Dogs chase cats and mice. Birds sing songs. Dogs bark at cats. "
            "The weather is sunny.")


def test_summarize_picks_the_central_sentence_and_keeps_text_order():
    # "Dogs chase cats and mice." shares words with three sentences: it is the hub.
    assert summarize(HUB_TEXT, 1) == ["Dogs chase cats and mice."]
    two = summarize(HUB_TEXT, 2)
    sentences = split_sentences(HUB_TEXT)
    assert len(two) == 2 and two == sorted(two, key=sentences.index)
    assert "Birds sing songs." not in two and "The weather is sunny." not in two


def test_summarize_is_the_top_textrank_sentences():
    text = load_summarization_text()[0]
    sentences = split_sentences(text)
    scores, similarity = rank_sentences(sentences)
    np.testing.assert_allclose(similarity, similarity.T, atol=1e-15)
    expected = [sentences[i] for i in sorted(np.argsort(-scores)[:4])]
    assert summarize(text, 4) == expected


@pytest.mark.parametrize("n, error, words", [
    (0, ValueError, ["n_sentences must be in [1, 5]", "got 0"]),
    (6, ValueError, ["n_sentences must be in [1, 5]", "got 6"]),
    (2.0, TypeError, ["n_sentences must be an int", "float"]),
])
def test_summarize_errors(n, error, words):
    with pytest.raises(error) as caught:
        summarize(HUB_TEXT, n)
    for word in words:
        assert word in str(caught.value)


# -- ROUGE-1 -----------------------------------------------------------------------------------------------------
def test_rouge_1_by_hand():
    # candidate: the cat sat on the mat (6); reference: the cat is on the mat (6); shared the x2, cat, on, mat
    assert rouge_1("The cat sat on the mat.", "The cat is on the mat.") == pytest.approx(
        {"recall": 5 / 6, "precision": 5 / 6, "f1": 5 / 6})
    # a word counts at most as often as the reference has it: overlap 1
    assert rouge_1("the the the", "the cat") == pytest.approx({"recall": 1 / 2, "precision": 1 / 3, "f1": 0.4})
    # stop words removed: cat, sat, mat against cat, mat -> overlap 2
    assert rouge_1("The cat sat on the mat.", "The cat is on the mat.", stop_words=ENGLISH_STOP_WORDS) == \
        pytest.approx({"recall": 1.0, "precision": 2 / 3, "f1": 0.8})
    # stemming merges plural forms
    assert rouge_1("networks", "network")["recall"] == 0.0
    assert rouge_1("networks", "network", stemmed=True)["recall"] == 1.0


def test_rouge_1_of_an_empty_candidate_is_zero_and_an_empty_reference_an_error():
    assert rouge_1("", "a cat") == {"recall": 0.0, "precision": 0.0, "f1": 0.0}
    with pytest.raises(ValueError, match="reference must contain at least one word"):
        rouge_1("a cat", "the of", stop_words=ENGLISH_STOP_WORDS)
    with pytest.raises(TypeError, match="candidate must be a str"):
        rouge_1(["a cat"], "a cat")


# -- the bundled essay -------------------------------------------------------------------------------------------
def test_bundled_essay_and_reference_summary():
    text, reference = load_summarization_text()
    assert isinstance(text, str) and isinstance(reference, str)
    assert 25 <= len(split_sentences(text)) <= 40
    assert 3 <= len(split_sentences(reference)) <= 5
    assert text.count("\n\n") >= 5   # paragraphs
    # an abstract, not an extract: no sentence of the reference is copied from the essay
    assert not set(split_sentences(reference)) & set(split_sentences(text))


def test_read_text_names_the_bundled_files_for_an_unknown_name():
    with pytest.raises(FileNotFoundError, match="neural_networks_history.txt"):
        read_text("no_such_text.txt")
