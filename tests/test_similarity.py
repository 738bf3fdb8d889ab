"""fastnn.similarity: cosine similarity (hand-checked, against a loop and scikit-learn, zero
rows, tensors) and most_similar (order, ties, the row itself left out), and their errors."""

import math

import numpy as np
import pytest

import fastnn as fnn
from fastnn.similarity import cosine_similarity, most_similar


def loop_cosine(a, b):
    """The definition, one pair at a time: a_i . b_j / (|a_i| |b_j|), 0 for a zero vector."""
    out = np.zeros((len(a), len(b)))
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            norms = math.sqrt(sum(v * v for v in x)) * math.sqrt(sum(v * v for v in y))
            out[i, j] = sum(u * v for u, v in zip(x, y)) / norms if norms else 0.0
    return out


def test_hand_checked_values():
    vectors = [[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.0]]
    s = cosine_similarity(vectors)
    r = 1 / math.sqrt(2)
    expected = [[1, 0, r, -1],
                [0, 1, r, 0],
                [r, r, 1, -r],
                [-1, 0, -r, 1]]
    np.testing.assert_allclose(s, expected, atol=1e-15)
    assert s.dtype == np.float64 and s.shape == (4, 4)


def test_matches_the_definition_and_scikit_learn_for_two_matrices():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=(4, 5))
    s = cosine_similarity(a, b)
    assert s.shape == (7, 4)
    np.testing.assert_allclose(s, loop_cosine(a, b), rtol=1e-12, atol=1e-14)
    sklearn_pairwise = pytest.importorskip("sklearn.metrics.pairwise")
    np.testing.assert_allclose(s, sklearn_pairwise.cosine_similarity(a, b), rtol=1e-12, atol=1e-14)


def test_without_b_the_rows_are_compared_with_each_other_symmetrically():
    a = np.random.default_rng(2).normal(size=(6, 3))
    s = cosine_similarity(a)
    np.testing.assert_allclose(s, s.T, atol=0)
    np.testing.assert_allclose(np.diag(s), 1.0, rtol=1e-15)
    np.testing.assert_allclose(s, cosine_similarity(a, a), atol=1e-15)


def test_scale_does_not_matter_and_values_stay_in_range():
    a = np.array([[1e-8, 2e-8, 3e-8], [1e8, 2e8, 3e8], [1.0, 2.0, 3.0]])
    s = cosine_similarity(a)
    assert np.all(s <= 1.0) and np.all(s >= -1.0)
    np.testing.assert_allclose(s, 1.0, rtol=1e-14)


def test_zero_rows_give_zero_similarity_not_nan():
    a = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    with np.errstate(all="raise"):   # no 0/0 is ever evaluated
        s = cosine_similarity(a)
    np.testing.assert_array_equal(s[0], [0, 0, 0])
    np.testing.assert_array_equal(s[:, 2], [0, 0, 0])
    assert s[1, 1] == pytest.approx(1.0)
    assert not np.isnan(s).any()


def test_integer_lists_and_fastnn_tensors_are_accepted(rng_restored):
    a = [[1, 2], [3, 4]]
    expected = loop_cosine(a, a)
    np.testing.assert_allclose(cosine_similarity(a), expected, rtol=1e-14)
    with fnn.use_backend("numpy"):
        tensor = fnn.tensor(np.array(a, dtype=np.float64))
        np.testing.assert_allclose(cosine_similarity(tensor, tensor), expected, rtol=1e-14)
        assert isinstance(cosine_similarity(tensor), np.ndarray)


@pytest.mark.parametrize("a, b, error, words", [
    (np.ones(3), None, ValueError, ["a must be 2-D", "(3,)", "reshape(1, -1)"]),
    (np.ones((2, 3, 4)), None, ValueError, ["a must be 2-D", "(2, 3, 4)"]),
    (np.ones((2, 3)), np.ones((2, 4)), ValueError, ["same number of features", "(2, 3)", "(2, 4)"]),
    (np.ones((2, 3)), np.ones(3), ValueError, ["b must be 2-D", "(3,)"]),
    (np.array([["x", "y"]]), None, TypeError, ["a must hold real numbers", "<U1"]),
    (np.array([[1.0, np.nan]]), None, ValueError, ["finite", "a[0, 1] = nan"]),
    ([[1, 2], [3]], None, TypeError, ["a must be a 2-D array of numbers"]),
])
def test_bad_input_raises_an_error_naming_the_argument(a, b, error, words):
    with pytest.raises(error) as caught:
        cosine_similarity(a, b)
    for word in words:
        assert word in str(caught.value)


def test_most_similar_by_hand():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.05], [-1.0, 0.0]])
    indices, similarities = most_similar(vectors, 0, k=3)
    assert indices.tolist() == [3, 1, 2]   # the row itself (0) is left out
    assert indices.dtype == np.int64
    np.testing.assert_allclose(similarities, loop_cosine(vectors[[0]], vectors[[3, 1, 2]])[0], rtol=1e-14)
    assert list(similarities) == sorted(similarities, reverse=True)


def test_most_similar_breaks_ties_by_lower_index_and_can_list_every_other_row():
    vectors = np.array([[1.0, 1.0], [2.0, 2.0], [0.0, 1.0], [3.0, 3.0], [1.0, 0.0]])
    indices, similarities = most_similar(vectors, 3, k=4)
    assert indices.tolist() == [0, 1, 2, 4]   # 0 and 1 tie at 1; 2 and 4 tie at 1/sqrt(2)
    np.testing.assert_allclose(similarities, [1, 1, 1 / math.sqrt(2), 1 / math.sqrt(2)], rtol=1e-14)


@pytest.mark.parametrize("index, k, error, words", [
    (5, 2, ValueError, ["index", "[0, 5)", "got 5"]),
    (-1, 2, ValueError, ["index", "got -1"]),
    (0, 0, ValueError, ["k must be in [1, 4]", "got 0"]),
    (0, 5, ValueError, ["k must be in [1, 4]", "got 5"]),
    (1.0, 2, TypeError, ["index must be an int", "float"]),
    (0, True, TypeError, ["k must be an int", "bool"]),
])
def test_most_similar_errors(index, k, error, words):
    with pytest.raises(error) as caught:
        most_similar(np.eye(5), index, k)
    for word in words:
        assert word in str(caught.value)
