"""fastnn.datasets.ratings: the synthetic genre model (shapes, ranges, what its formula implies
in hand-checkable special cases, its low-rank structure), the split, the MovieLens reader
and their errors."""

import numpy as np
import pytest

import fastnn as fnn
from fastnn.datasets.ratings import Ratings, read_movielens, split_ratings, synthetic_ratings


def test_shapes_dtypes_ranges_and_counts():
    data = synthetic_ratings(n_users=40, n_items=30, n_genres=4, density=0.25, seed=3)
    m = round(0.25 * 40 * 30)
    assert len(data) == m == 300
    assert data.users.dtype == np.int64 and data.items.dtype == np.int64 and data.ratings.dtype == np.float32
    assert data.users.shape == data.items.shape == data.ratings.shape == (m,)
    assert (data.n_users, data.n_items) == (40, 30)
    assert data.users.min() >= 0 and data.users.max() < 40 and data.items.min() >= 0 and data.items.max() < 30
    assert set(np.unique(data.ratings)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    cells = data.users * 30 + data.items
    assert len(np.unique(cells)) == m               # distinct (user, item) pairs
    assert np.all(np.diff(cells) > 0)               # sorted by user, then item
    assert data.item_genres.shape == (30,) and data.item_genres.dtype == np.int64
    assert sorted(np.bincount(data.item_genres).tolist()) == [7, 7, 8, 8]   # dealt out evenly


def test_seeded_reproducible_and_leaves_the_global_stream_alone(rng_restored):
    fnn.manual_seed(11)
    before = fnn.get_rng_state()
    a, b = synthetic_ratings(50, 20, seed=1), synthetic_ratings(50, 20, seed=1)
    assert fnn.get_rng_state() == before
    for field in ("users", "items", "ratings", "item_genres"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.ratings, synthetic_ratings(50, 20, seed=2).ratings)


def test_without_taste_noise_or_biases_every_rating_is_the_rounded_mean():
    # r = clip(round(mean + 0 + 0 + 0 . q + 0), 1, 5)
    data = synthetic_ratings(20, 10, 2, density=1.0, noise=0, taste=0, bias_std=0, mean=3.2)
    np.testing.assert_array_equal(data.ratings, 3.0)
    high = synthetic_ratings(20, 10, 2, density=1.0, noise=0, taste=0, bias_std=0, mean=9.0)
    np.testing.assert_array_equal(high.ratings, 5.0)   # clipped to the scale


def test_with_pure_genre_items_a_user_rates_every_item_of_a_genre_alike():
    # item_spread = noise = bias_std = 0: q_i = e_{g_i}, so r_ui = clip(round(mean + p_u[g_i])) depends on (u, g_i) only
    data = synthetic_ratings(30, 24, 3, density=1.0, noise=0, item_spread=0, bias_std=0, seed=5)
    table = data.ratings.reshape(30, 24)   # density 1: every cell, in row-major order
    for genre in range(3):
        columns = table[:, data.item_genres == genre]
        np.testing.assert_array_equal(columns, columns[:, :1].repeat(columns.shape[1], axis=1))
    assert len(np.unique(table)) > 1   # but users differ


def test_items_of_one_genre_are_rated_alike_by_the_same_users():
    data = synthetic_ratings(400, 30, 3, density=1.0, noise=0.5, seed=0)
    table = data.ratings.reshape(400, 30)
    correlation = np.corrcoef(table.T)
    same = data.item_genres[:, None] == data.item_genres[None, :]
    off_diagonal = ~np.eye(30, dtype=bool)
    assert correlation[same & off_diagonal].mean() > 0.4
    assert abs(correlation[~same].mean()) < 0.15
    assert 2.7 < table.mean() < 3.3   # E[mean + b_u + b_i + p . q] = mean; clipping is nearly symmetric here


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(n_users=0), ValueError, ["n_users must be an int >= 1", "got 0"]),
    (dict(n_items="10"), TypeError, ["n_items must be an int", "str"]),
    (dict(n_items=4, n_genres=5), ValueError, ["n_genres must be at most n_items (4)", "got 5"]),
    (dict(density=0.0), ValueError, ["density", "(0, 1]", "0.0"]),
    (dict(density=1.5), ValueError, ["density", "1.5"]),
    (dict(noise=-0.1), ValueError, ["noise must be a finite number >= 0", "-0.1"]),
    (dict(taste=float("nan")), ValueError, ["taste must be a finite number >= 0"]),
])
def test_synthetic_ratings_errors(kwargs, error, words):
    with pytest.raises(error) as caught:
        synthetic_ratings(**kwargs)
    for word in words:
        assert word in str(caught.value)


def test_split_holds_out_a_seeded_fraction_of_the_ratings():
    data = synthetic_ratings(60, 40, 4, density=0.3, seed=0)
    train, test = split_ratings(data, test_size=0.2, seed=0)
    assert len(test) == int(np.ceil(0.2 * len(data))) and len(train) + len(test) == len(data)
    key = lambda part: set(zip(part.users.tolist(), part.items.tolist(), part.ratings.tolist()))  # noqa: E731
    assert not key(train) & key(test) and key(train) | key(test) == key(data)
    for part in (train, test):
        assert (part.n_users, part.n_items) == (60, 40) and part.item_genres is data.item_genres
    again, _ = split_ratings(data, test_size=0.2, seed=0)
    np.testing.assert_array_equal(again.ratings, train.ratings)
    other, _ = split_ratings(data, test_size=0.2, seed=1)
    assert key(other) != key(train)
    assert len(split_ratings(data, test_size=50)[1]) == 50


def test_split_errors():
    data = synthetic_ratings(10, 10, 2, density=0.5)
    with pytest.raises(TypeError, match="data must be a Ratings record"):
        split_ratings((data.users, data.items, data.ratings))
    with pytest.raises(ValueError, match=r"test_size as a fraction must be in \[0, 1\), got 1.5"):
        split_ratings(data, test_size=1.5)


def test_read_movielens(tmp_path):
    path = tmp_path / "u.data"
    path.write_text("1\t3\t5\t881250949\n2\t1\t3\t891717742\n\n3\t3\t1\t878887116\n")
    for where in (path, tmp_path):   # the file, or the folder holding u.data
        data = read_movielens(where)
        assert isinstance(data, Ratings)
        np.testing.assert_array_equal(data.users, [0, 1, 2])
        np.testing.assert_array_equal(data.items, [2, 0, 2])
        np.testing.assert_array_equal(data.ratings, [5, 3, 1])
        assert (data.n_users, data.n_items, data.item_genres) == (3, 3, None)


@pytest.mark.parametrize("content, words", [
    ("1\t2\t5\n", ["line 1", "4 integers"]),
    ("1\t2\t5\t0\n1\tx\t5\t0\n", ["line 2", "4 integers", "'1\\tx\\t5\\t0'"]),
    ("1\t2\t6\t0\n", ["line 1", "rating in 1..5"]),
    ("0\t2\t4\t0\n", ["line 1", "ids must be >= 1"]),
    ("\n", ["holds no ratings"]),
])
def test_read_movielens_errors(tmp_path, content, words):
    path = tmp_path / "u.data"
    path.write_text(content)
    with pytest.raises(ValueError) as caught:
        read_movielens(path)
    for word in words:
        assert word in str(caught.value)


def test_read_movielens_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="u.data"):
        read_movielens(tmp_path / "nothing" / "u.data")
