"""Recommend with embeddings: matrix factorisation learns a vector for every user and item from ratings alone.

A recommender fills in a sparse matrix: users rated a few items each, and we want to
predict the ratings they have not given. Matrix factorisation gives every user u a vector
p_u and every item i a vector q_i, both of k numbers, learned so that

    predicted rating  r_hat(u, i) = p_u . q_i + b_u + b_i + mu

mu is the mean training rating, b_u says how generous user u is, b_i how well liked item i
is, and the dot product p_u . q_i how well the item's traits match the user's taste. The
vectors are rows of two embedding tables (fastnn.layers.Embedding: a lookup whose rows are
trained by backpropagation), and so are the biases (tables of width 1). Nobody tells the
model what the k numbers mean; it invents them because they explain the ratings.

Training minimises, over the mini-batches of observed (u, i, r) triples,

    loss = mean (r_hat(u, i) - r)^2  +  lam * mean (|p_u|^2 + |q_i|^2)

the squared error plus a small L2 penalty on the vectors looked up (the classic "Funk SVD"
objective): without it, a user with three ratings gets a vector that fits those three
exactly and predicts nonsense elsewhere. The data is synthetic with a known answer
(fastnn.datasets.ratings.synthetic_ratings): every item belongs to one of G genres, every
user likes some genres and dislikes others, and ratings are 1..5 stars; the vectors get
k = G numbers, the rank of the true model. 20% of the ratings are held out; we measure
the root mean squared error (RMSE) of predicting them, against two baselines that need
no vectors:

    global mean      r_hat = mu                              (predict the average rating)
    biases only      r_hat = mu + b_u + b_i                   (generosity and popularity)

The learner should see the held-out RMSE fall well below both (about 0.7 stars against
1.2 for the global mean). Then the item vectors are used on their own. Two items are
similar when their vectors point the same way, by the cosine similarity

    cos(q_i, q_j) = q_i . q_j / (|q_i| |q_j|)

("people who liked this also liked ..."; fastnn.similarity.most_similar). The genres were
never shown to the model, yet an item's 5 nearest neighbours share its genre far more
often than chance (1/G): the embedding has discovered the genres from who liked what. The
plot shows the held-out RMSE per epoch against the baselines, and the item vectors
projected onto their two main directions (PCA), coloured by genre.

With --movielens PATH the same model trains on MovieLens 100K's u.data (no genres there,
so only the RMSEs and some neighbours are shown). Run it with

    python examples/recommender.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
                                   [--movielens PATH/u.data]
"""

import lesson
import numpy as np

import fastnn as fnn
import fastnn.functional as F
from fastnn.datasets.ratings import read_movielens, split_ratings, synthetic_ratings
from fastnn.layers import Embedding
from fastnn.random import default_generator
from fastnn.similarity import most_similar

# Data and training for each mode; the tests read QUICK to rebuild the same data.
QUICK = {"data": dict(n_users=300, n_items=150, n_genres=5, density=0.2, noise=0.5), "epochs": 15}
FULL = {"data": dict(n_users=1000, n_items=300, n_genres=5, density=0.15, noise=0.5), "epochs": 20}
TEST_SIZE = 0.2          # the fraction of ratings held out
BATCH_SIZE = 256
LEARNING_RATE = 0.03     # Adam
L2 = 0.05                # lam: weight of the vector penalty
BIAS_SHRINK = 5.0        # the biases-only baseline shrinks each bias as if it had 5 more ratings of 0
TOP_K = 5                # neighbours per item
EXAMPLE_ITEMS = 3        # items whose neighbours are printed
MOVIELENS_FACTORS = 20   # vector length for MovieLens, whose true rank nobody knows (synthetic: k = G)


class MatrixFactorization(fnn.Model):
    """r_hat(u, i) = p_u . q_i + b_u + b_i + mu, with p, q, b_u, b_i rows of embedding tables."""

    def __init__(self, n_users, n_items, factors, mean_rating):
        super().__init__()
        # Small random vectors: all-zero vectors would have zero gradient (p . q is flat at 0).
        self.user_vectors = Embedding(n_users, factors, embeddings_initializer="normal")
        self.item_vectors = Embedding(n_items, factors, embeddings_initializer="normal")
        self.user_bias = Embedding(n_users, 1, embeddings_initializer="zeros")
        self.item_bias = Embedding(n_items, 1, embeddings_initializer="zeros")
        self.mean_rating = mean_rating   # a constant: the biases learn the offsets from it

    def predict_with_vectors(self, users, items):
        """The predictions, and the user and item vectors they used (for the L2 penalty)."""
        p, q = self.user_vectors(users), self.item_vectors(items)
        biases = self.user_bias(users).reshape(-1) + self.item_bias(items).reshape(-1)
        return (p * q).sum(axis=1) + biases + self.mean_rating, p, q

    def call(self, inputs, training=None):
        users, items = inputs
        return self.predict_with_vectors(users, items)[0]


def rmse(predicted, actual):
    return float(np.sqrt(np.mean((np.asarray(predicted, dtype=np.float64) - actual) ** 2)))


def predict_ratings(model, data):
    """Predicted stars for the (user, item) pairs of ``data``, clipped to the 1..5 scale (host numpy)."""
    with fnn.no_grad():
        predicted = model((data.users, data.items), training=False).numpy()
    return np.clip(predicted, 1.0, 5.0)


def train(model, train_data, test_data, epochs):
    """Adam on mini-batches of observed ratings; returns the held-out RMSE after each epoch."""
    with fnn.no_grad():
        model((train_data.users[:1], train_data.items[:1]))   # builds the tables, so parameters() has them
    optimizer = fnn.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    test_rmse = []
    for _ in range(epochs):
        order = default_generator.permutation(len(train_data))   # a new, seeded order every epoch
        for start in range(0, len(order), BATCH_SIZE):
            batch = train_data.subset(order[start:start + BATCH_SIZE])
            optimizer.zero_grad()
            predicted, p, q = model.predict_with_vectors(batch.users, batch.items)
            penalty = ((p * p).sum(axis=1) + (q * q).sum(axis=1)).mean()
            loss = F.mse(predicted, fnn.tensor(batch.ratings)) + L2 * penalty
            loss.backward()
            optimizer.step()
        test_rmse.append(rmse(predict_ratings(model, test_data), test_data.ratings))
    return test_rmse


def fit_biases(train_data, mean_rating, rounds=10):
    """The biases-only baseline, by alternating least squares (no vectors, no gradient descent):
    b_i = sum_u (r - mu - b_u) / (BIAS_SHRINK + n_i), then b_u likewise, repeated."""
    user_bias, item_bias = np.zeros(train_data.n_users), np.zeros(train_data.n_items)
    residual = train_data.ratings - mean_rating
    for _ in range(rounds):
        item_bias = (np.bincount(train_data.items, residual - user_bias[train_data.users], train_data.n_items)
                     / (BIAS_SHRINK + np.bincount(train_data.items, minlength=train_data.n_items)))
        user_bias = (np.bincount(train_data.users, residual - item_bias[train_data.items], train_data.n_users)
                     / (BIAS_SHRINK + np.bincount(train_data.users, minlength=train_data.n_users)))
    return user_bias, item_bias


def neighbour_genre_precision(item_vectors, genres, k):
    """The fraction of each item's k most similar items (by cosine) that share its genre."""
    hits = [np.mean(genres[most_similar(item_vectors, i, k)[0]] == genres[i]) for i in range(len(genres))]
    return float(np.mean(hits))


def chance_precision(genres):
    """What neighbour_genre_precision would be for random neighbours: P(another item shares the genre)."""
    sizes = np.bincount(genres).astype(np.float64)
    n = len(genres)
    return float((sizes * (sizes - 1)).sum() / (n * (n - 1)))


def principal_plane(vectors):
    """The vectors (made unit length, as cosine sees them) projected onto their 2 main directions."""
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centred = unit - unit.mean(axis=0)
    _, _, directions = np.linalg.svd(centred, full_matrices=False)
    return centred @ directions[:2].T


def plot(out, test_rmse, baselines, item_vectors, genres):
    fig, axes = lesson.figure(1, 2, figsize=(11, 4.5))
    curve, plane = axes[0]
    epochs = np.arange(1, len(test_rmse) + 1)
    curve.plot(epochs, test_rmse, marker="o", label="matrix factorisation")
    for (name, value), style in zip(baselines.items(), ("--", ":")):
        curve.axhline(value, linestyle=style, color="gray", label=f"{name} ({value:.3f})")
    curve.set(xlabel="epoch", ylabel="held-out RMSE (stars)", title="Predicting held-out ratings")
    curve.xaxis.get_major_locator().set_params(integer=True)
    curve.legend()
    xy = principal_plane(item_vectors)
    if genres is None:
        plane.scatter(xy[:, 0], xy[:, 1], s=8)
    else:
        for genre in np.unique(genres):
            chosen = genres == genre
            plane.scatter(xy[chosen, 0], xy[chosen, 1], s=12, label=f"genre {genre}")
        plane.legend(fontsize="small", markerscale=1.5)
    plane.set(xlabel="first principal direction", ylabel="second principal direction",
              title="Learned item vectors (genres never shown to the model)")
    lesson.save_figure(fig, out, "recommender.png")


def load_data(quick, movielens):
    if movielens is not None:
        data = read_movielens(movielens)
        return data, MOVIELENS_FACTORS, QUICK["epochs"] if quick else FULL["epochs"]
    config = QUICK if quick else FULL
    return synthetic_ratings(**config["data"]), config["data"]["n_genres"], config["epochs"]


def run(backend="cpu", quick=False, out=".", seed=0, movielens=None) -> dict:
    data, factors, epochs = load_data(quick, movielens)
    # The split is fixed (seed 0) so that --seed changes the training, not the question.
    train_data, test_data = split_ratings(data, TEST_SIZE, seed=0)
    mean_rating = float(train_data.ratings.mean())
    print(f"{data.n_users} users, {data.n_items} items, {len(train_data)} training and "
          f"{len(test_data)} held-out ratings, mean rating {mean_rating:.2f}")

    baseline_rmse = rmse(np.full(len(test_data), mean_rating), test_data.ratings)
    user_bias, item_bias = fit_biases(train_data, mean_rating)
    bias_rmse = rmse(np.clip(mean_rating + user_bias[test_data.users] + item_bias[test_data.items], 1, 5),
                     test_data.ratings)

    model = MatrixFactorization(data.n_users, data.n_items, factors, mean_rating)
    test_rmse = train(model, train_data, test_data, epochs)
    train_rmse = rmse(predict_ratings(model, train_data), train_data.ratings)
    print(f"held-out RMSE: global mean {baseline_rmse:.3f}, biases only {bias_rmse:.3f}, "
          f"matrix factorisation {test_rmse[-1]:.3f}")

    item_vectors = model.item_vectors.embeddings.numpy()
    genres = data.item_genres
    examples = []
    for item in range(EXAMPLE_ITEMS):
        neighbours, similarities = most_similar(item_vectors, item, TOP_K)
        examples.append([item, neighbours.tolist()])
        described = ", ".join(f"{j} ({s:.2f})" + ("" if genres is None else f" g{genres[j]}")
                              for j, s in zip(neighbours, similarities))
        print(f"item {item}" + ("" if genres is None else f" (genre {genres[item]})") + f": most similar {described}")

    plot(out, test_rmse, {"global mean": baseline_rmse, "biases only": bias_rmse}, item_vectors, genres)
    results = {
        "n_users": data.n_users, "n_items": data.n_items, "n_train": len(train_data), "n_test": len(test_data),
        "factors": factors, "baseline_rmse": baseline_rmse, "bias_rmse": bias_rmse,
        "train_rmse": train_rmse, "test_rmse": test_rmse[-1], "rmse_ratio": test_rmse[-1] / baseline_rmse,
        "test_rmse_per_epoch": [round(v, 4) for v in test_rmse], "top_k": TOP_K, "example_neighbours": examples,
    }
    if genres is not None:
        results["neighbour_genre_precision"] = neighbour_genre_precision(item_vectors, genres, TOP_K)
        results["chance_precision"] = chance_precision(genres)
        print(f"top-{TOP_K} neighbours sharing the item's genre: {results['neighbour_genre_precision']:.1%} "
              f"(chance {results['chance_precision']:.1%})")
    return results


def add_arguments(parser):
    parser.add_argument("--movielens", default=None, metavar="PATH",
                        help="train on MovieLens 100K's u.data (a file you have) instead of synthetic ratings")


def main(argv=None) -> dict:
    args = lesson.parse_args(__file__, __doc__, argv, add_arguments)
    return lesson.execute(run, args, movielens=args.movielens)


if __name__ == "__main__":
    main()
