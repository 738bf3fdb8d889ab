"""Matrix factorisation with embeddings predicts held-out ratings far better than the global
mean, and its learned item vectors, compared by cosine, group the items by the genres it
was never shown."""

import numpy as np
import pytest
from backend_params import BACKENDS
from example_scripts import load, run_quick

from fastnn.datasets.ratings import split_ratings, synthetic_ratings


@pytest.fixture(scope="module", params=BACKENDS)
def results(request, tmp_path_factory):
    out = tmp_path_factory.mktemp("recommender")
    return run_quick("recommender", request.param, out), out


@pytest.fixture(scope="module")
def data():
    """The quick-mode ratings and the split, rebuilt here from the dataset module."""
    script = load("recommender")
    ratings = synthetic_ratings(**script.QUICK["data"])
    return ratings, *split_ratings(ratings, script.TEST_SIZE, seed=0)


def test_baseline_is_the_global_mean_of_the_training_ratings(results, data):
    numbers, _ = results
    _, train, test = data
    assert (numbers["n_train"], numbers["n_test"]) == (len(train), len(test))
    expected = np.sqrt(np.mean((test.ratings.astype(np.float64) - train.ratings.mean(dtype=np.float64)) ** 2))
    assert numbers["baseline_rmse"] == pytest.approx(expected, rel=1e-6)


def test_held_out_rmse_beats_the_baselines_clearly(results, data):
    numbers, _ = results
    assert numbers["test_rmse"] <= 0.8 * numbers["baseline_rmse"]   # about 0.58 x in practice
    assert numbers["test_rmse"] < numbers["bias_rmse"] - 0.2        # the vectors add what biases cannot
    assert numbers["bias_rmse"] < numbers["baseline_rmse"]
    # it learned rather than memorised: held-out error is not far above the training error
    assert numbers["train_rmse"] < numbers["test_rmse"] < numbers["train_rmse"] + 0.5
    curve = numbers["test_rmse_per_epoch"]
    assert curve[-1] < curve[0] - 0.2


def test_item_neighbours_share_their_genre_far_above_chance(results, data):
    numbers, _ = results
    ratings, _, _ = data
    genres = ratings.item_genres
    sizes = np.bincount(genres)
    chance = (sizes * (sizes - 1)).sum() / (len(genres) * (len(genres) - 1))
    assert numbers["chance_precision"] == pytest.approx(chance)
    assert numbers["neighbour_genre_precision"] >= 0.7 > 3 * chance
    for item, neighbours in numbers["example_neighbours"]:
        assert len(neighbours) == numbers["top_k"] and item not in neighbours
        assert len(set(neighbours)) == len(neighbours)
    shared = [np.mean(genres[neighbours] == genres[item]) for item, neighbours in numbers["example_neighbours"]]
    assert np.mean(shared) >= 0.6


def test_movielens_option_reads_a_u_data_file(tmp_path, rng_restored):
    # MovieLens 100K's layout (user item rating timestamp, ids from 1), written from synthetic ratings
    ratings = synthetic_ratings(n_users=120, n_items=60, n_genres=3, density=0.25, seed=7)
    path = tmp_path / "u.data"
    path.write_text("".join(f"{u + 1}\t{i + 1}\t{int(r)}\t0\n"
                            for u, i, r in zip(ratings.users, ratings.items, ratings.ratings)))
    numbers = run_quick("recommender", "numpy", tmp_path / "out", "--movielens", str(path))
    assert (numbers["n_users"], numbers["n_items"], numbers["n_train"] + numbers["n_test"]) == (120, 60, len(ratings))
    assert numbers["test_rmse"] < numbers["baseline_rmse"]
    assert "neighbour_genre_precision" not in numbers   # MovieLens ratings come without genres


def test_plot_written(results):
    _, out = results
    assert (out / "recommender.png").stat().st_size > 0
