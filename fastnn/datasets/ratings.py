"""Ratings of items by users, for recommender systems: a seeded synthetic set, a split, MovieLens.

A ratings dataset is a sparse users x items matrix: most users rated only a few items. It
is stored as three parallel arrays, one entry per observed rating (user u gave item i the
rating r), in a ``Ratings`` record:

    users    int64 (m,)    user ids in [0, n_users)
    items    int64 (m,)    item ids in [0, n_items)
    ratings  float32 (m,)  whole stars 1..5
    item_genres            int64 (n_items,): the genre of each item (synthetic data), or None

``synthetic_ratings`` makes one with a known low-rank structure (its docstring gives the
generative model), so that a learner can check what matrix factorisation recovers.
``split_ratings`` holds out a random part of the ratings for testing. ``read_movielens``
reads the MovieLens 100K ``u.data`` file if you have one (fastnn does not download it).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..random import Generator
from .arguments import count, finite_real
from .split import n_test_samples

MIN_RATING, MAX_RATING = 1, 5


@dataclass(frozen=True)
class Ratings:
    """Observed ratings: ``ratings[k]`` is what user ``users[k]`` gave item ``items[k]``."""

    users: np.ndarray
    items: np.ndarray
    ratings: np.ndarray
    n_users: int
    n_items: int
    item_genres: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ratings)

    def subset(self, index) -> "Ratings":
        """The ratings at positions ``index`` (same users, items and genres)."""
        return Ratings(self.users[index], self.items[index], self.ratings[index], self.n_users, self.n_items,
                       self.item_genres)


def synthetic_ratings(n_users: int = 500, n_items: int = 200, n_genres: int = 5, density: float = 0.2,
                      noise: float = 0.5, seed: int = 0, item_spread: float = 0.3, taste: float = 1.0,
                      bias_std: float = 0.3, mean: float = 3.0) -> Ratings:
    """Seeded synthetic ratings from a genre model of taste: returns a ``Ratings`` record.

    Every item belongs to one of G = ``n_genres`` genres, every user likes some genres and
    dislikes others. With e_g the g-th unit vector of R^G and all normal draws independent:

        genre of item i     g_i: the genres 0..G-1 dealt out evenly (i mod G), then shuffled
        item vector         q_i = e_{g_i} + item_spread * N(0, I_G)
        user taste          p_u = taste * N(0, I_G)            (p_u[g]: how much u likes genre g)
        biases              b_u = bias_std * N(0, 1)   (a generous or strict user)
                            b_i = bias_std * N(0, 1)   (a better or worse item)
        rating              r_ui = clip(round(mean + b_u + b_i + p_u . q_i + noise * N(0, 1)), 1, 5)

    So the full ratings matrix is, up to noise, rounding and clipping, a rank-G matrix plus
    the biases: exactly the model that matrix factorisation fits, and items of one genre
    have similar true vectors. Which ratings are observed: m = round(density * n_users *
    n_items) distinct (user, item) pairs drawn uniformly at random, returned sorted by user
    then item. ``item_genres`` holds g_i.

    The draws come from ``fastnn.random.Generator(seed)``: the same data on every machine,
    and fastnn's global random stream is not moved. ``density`` is in (0, 1]; ``noise``,
    ``item_spread``, ``taste`` and ``bias_std`` are standard deviations (>= 0).
    """
    n_users = count(n_users, "n_users")
    n_items = count(n_items, "n_items")
    n_genres = count(n_genres, "n_genres")
    if n_genres > n_items:
        raise ValueError(f"n_genres must be at most n_items ({n_items}) so that every genre has an item, "
                         f"got {n_genres}")
    if isinstance(density, bool) or not isinstance(density, numbers.Real) or not 0 < density <= 1:
        raise ValueError(f"density (the fraction of (user, item) pairs rated) must be in (0, 1], got {density!r}")
    noise, item_spread, taste, bias_std = (finite_real(v, name, minimum=0) for v, name in (
        (noise, "noise"), (item_spread, "item_spread"), (taste, "taste"), (bias_std, "bias_std")))
    n_ratings = max(1, round(density * n_users * n_items))

    generator = Generator(seed)
    genres = (np.arange(n_items) % n_genres)[generator.permutation(n_items)]
    item_vectors = np.eye(n_genres)[genres] + item_spread * generator.normal((n_items, n_genres), dtype="float64")
    user_vectors = taste * generator.normal((n_users, n_genres), dtype="float64")
    user_bias = bias_std * generator.normal((n_users,), dtype="float64")
    item_bias = bias_std * generator.normal((n_items,), dtype="float64")

    # The first m cells of a random order of all n_users * n_items cells, in row-major order.
    cells = np.sort(generator.permutation(n_users * n_items)[:n_ratings])
    users, items = cells // n_items, cells % n_items
    affinity = np.einsum("mg,mg->m", user_vectors[users], item_vectors[items])
    raw = mean + user_bias[users] + item_bias[items] + affinity
    raw = raw + noise * generator.normal((n_ratings,), dtype="float64")
    ratings = np.clip(np.rint(raw), MIN_RATING, MAX_RATING).astype(np.float32)
    return Ratings(users.astype(np.int64), items.astype(np.int64), ratings, n_users, n_items,
                   genres.astype(np.int64))


def split_ratings(data: Ratings, test_size=0.2, seed: int = 0):
    """Hold out a random part of the ratings: returns ``(train, test)``, two ``Ratings``.

    The ratings (not the users) are split: n_test = ceil(test_size * m) for a fraction in
    [0, 1), or ``test_size`` itself for an int, chosen by a permutation from
    ``fastnn.random.Generator(seed)`` (the first n_test positions are the test set). Both
    parts keep ``n_users``, ``n_items`` and ``item_genres``, so a user or item seen only in
    the test part still has an id the model knows.
    """
    if not isinstance(data, Ratings):
        raise TypeError(f"data must be a Ratings record (from synthetic_ratings or read_movielens), "
                        f"got {type(data).__name__}")
    n_test = n_test_samples(test_size, len(data))
    order = Generator(seed).permutation(len(data))
    return data.subset(np.sort(order[n_test:])), data.subset(np.sort(order[:n_test]))


def read_movielens(path) -> Ratings:
    """MovieLens ratings from a ``u.data`` file (MovieLens 100K: "user item rating timestamp",
    tab or white space separated, ids from 1): returns a ``Ratings`` record with ids moved to
    start at 0 (user id 1 becomes 0), ``n_users`` / ``n_items`` the largest ids, and no genres.

    Raises FileNotFoundError for a missing file, ValueError naming the line of a malformed
    row (not 4 integers, an id below 1 or a rating outside 1..5).
    """
    path = Path(path)
    if path.is_dir():
        path = path / "u.data"
    if not path.is_file():
        raise FileNotFoundError(f"no MovieLens ratings file at {path} (expected MovieLens 100K's u.data)")
    rows = []
    with open(path, encoding="latin-1") as lines:
        for number, line in enumerate(lines, 1):
            fields = line.split()
            if not fields:
                continue
            try:
                user, item, rating, _ = (int(f) for f in fields)
            except ValueError:
                raise ValueError(f"{path}, line {number}: expected 4 integers 'user item rating timestamp', "
                                 f"got {line.strip()!r}") from None
            if user < 1 or item < 1 or not MIN_RATING <= rating <= MAX_RATING:
                raise ValueError(f"{path}, line {number}: ids must be >= 1 and the rating in "
                                 f"{MIN_RATING}..{MAX_RATING}, got {line.strip()!r}")
            rows.append((user - 1, item - 1, rating))
    if not rows:
        raise ValueError(f"{path} holds no ratings")
    table = np.array(rows, dtype=np.int64)
    return Ratings(table[:, 0].copy(), table[:, 1].copy(), table[:, 2].astype(np.float32),
                   int(table[:, 0].max()) + 1, int(table[:, 1].max()) + 1, None)
