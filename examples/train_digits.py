"""fastnn's quick-start job: an MLP learns to read handwritten digits.

The 8x8 digit images bundled with scikit-learn (1,797 of them, offline) are split
into training and test sets; a Sequential MLP is trained with mini-batch Adam in a
hand-written loop (zero_grad, forward, loss, backward, step), showing a progress
bar, and the test accuracy is printed at the end.

    python examples/train_digits.py [--epochs 30] [--batch-size 32] [--lr 0.003] [--backend numpy]
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits
from tqdm import tqdm

import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Dropout, Input


def load(seed):
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel intensities 0..16 -> 0..1
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(x))
    cut = int(0.8 * len(x))
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def accuracy(model, x, y):
    model.eval()
    with fnn.no_grad():
        predicted = model(x).numpy().argmax(axis=1)
    model.train()
    return float((predicted == y).mean())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--backend", default=None, help="numpy | cpu | gpu (default: the best available)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    fnn.manual_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = load(args.seed)
    model = fnn.Sequential([
        Input((64,)),
        Dense(128, activation="relu", kernel_initializer="he_normal"),
        Dropout(0.2),
        Dense(10),  # logits: the loss applies softmax itself, stably
    ], backend=args.backend)
    model.summary()
    opt = fnn.optim.Adam(model.parameters(), lr=args.lr)

    steps = -(-len(x_train) // args.batch_size)
    for epoch in range(1, args.epochs + 1):
        order = fnn.random.default_generator.permutation(len(x_train))
        # disable=None: a live bar on a terminal, nothing when the output is piped to a file
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{args.epochs}", leave=False, disable=None)
        total = 0.0
        for step in bar:
            batch = order[step * args.batch_size:(step + 1) * args.batch_size]
            opt.zero_grad()
            loss = F.sparse_categorical_crossentropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / (step + 1):.4f}", refresh=False)
        if epoch % 5 == 0 or epoch == args.epochs:
            tqdm.write(f"epoch {epoch:3d}  loss {total / steps:.4f}  test accuracy {accuracy(model, x_test, y_test):.4f}")
    final = accuracy(model, x_test, y_test)
    print(f"test accuracy: {final:.4f}")
    return final


if __name__ == "__main__":
    main()
