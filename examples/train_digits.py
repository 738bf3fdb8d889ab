"""fastnn's quick-start job: an MLP learns to read handwritten digits, in a hand-written loop.

The 8 x 8 digit images bundled with fastnn (1,797 of them, offline) are split into 1,437
training and 360 test images (``fnn.datasets.load_digits``); a Sequential MLP

    64 pixels -> Dense(128, relu) -> Dropout(0.2) -> Dense(10) (logits)

is trained with mini-batch Adam in the loop every framework's training rests on:

    for each batch:  opt.zero_grad(); loss = F.sparse_categorical_crossentropy(model(x), y)
                     loss.backward(); opt.step()

with a progress bar per epoch; the test accuracy is printed every few epochs and at the
end (about 0.98 after 30 epochs, 0.97 after the 8 of ``--quick``). Into ``--out`` go the
trained model (``digits_mlp.safetensors``, reloadable with ``fnn.load_model``) and its
per-epoch loss and test accuracy (``training.png``).

    python examples/train_digits.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
                                    [--epochs N] [--batch-size N] [--lr LR]
"""

from tqdm import tqdm

import lesson
import fastnn as fnn
import fastnn.functional as F
from fastnn.layers import Dense, Dropout, Input

EPOCHS, QUICK_EPOCHS = 30, 8


def add_arguments(parser):
    parser.add_argument("--epochs", type=int, default=None,
                        help=f"passes over the training set (default: {EPOCHS}, {QUICK_EPOCHS} with --quick)")
    parser.add_argument("--batch-size", type=int, default=32, help="samples per step (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=3e-3, help="Adam's learning rate (default: %(default)s)")


def accuracy(model, x, y):
    model.eval()
    with fnn.no_grad():
        predicted = model(x).numpy().argmax(axis=1)
    model.train()
    return float((predicted == y).mean())


def run(backend="cpu", quick=False, out=".", seed=0, epochs=None, batch_size=32, lr=3e-3) -> dict:
    """Train the MLP with a hand-written loop; save it and its curves into ``out``."""
    epochs = epochs or (QUICK_EPOCHS if quick else EPOCHS)
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits(seed=seed)
    model = fnn.Sequential([
        Input((64,)),
        Dense(128, activation="relu", kernel_initializer="he_normal"),
        Dropout(0.2),
        Dense(10),  # logits: the loss applies softmax itself, stably
    ], backend=backend)
    model.summary()
    opt = fnn.optim.Adam(model.parameters(), lr=lr)

    steps = -(-len(x_train) // batch_size)
    losses, test_accuracies = [], []
    for epoch in range(1, epochs + 1):
        order = fnn.random.default_generator.permutation(len(x_train))
        # disable=None: a live bar on a terminal, nothing when the output is piped to a file
        bar = tqdm(range(steps), desc=f"epoch {epoch}/{epochs}", leave=False, disable=None)
        total = 0.0
        for step in bar:
            batch = order[step * batch_size:(step + 1) * batch_size]
            opt.zero_grad()
            loss = F.sparse_categorical_crossentropy(model(x_train[batch]), y_train[batch])
            loss.backward()
            opt.step()
            total += loss.item()
            bar.set_postfix(loss=f"{total / (step + 1):.4f}", refresh=False)
        losses.append(total / steps)
        test_accuracies.append(accuracy(model, x_test, y_test))
        if epoch % 5 == 0 or epoch == epochs:
            tqdm.write(f"epoch {epoch:3d}  loss {losses[-1]:.4f}  test accuracy {test_accuracies[-1]:.4f}")

    checkpoint = out / "digits_mlp.safetensors"
    model.save(checkpoint)
    fnn.plot.plot_curves({"training loss": losses, "test accuracy": test_accuracies}, out / "training.png",
                         title="MLP on the 8 x 8 digits, hand-written loop")
    return {
        "test_accuracy": test_accuracies[-1],
        "first_epoch_loss": losses[0],
        "final_loss": losses[-1],
        "epochs": epochs,
        "train_size": len(x_train),
        "test_size": len(x_test),
        "checkpoint": str(checkpoint),
        "losses": losses,
        "test_accuracies": test_accuracies,
    }


def main(argv=None) -> dict:
    args = lesson.parse_args(__file__, __doc__, argv, add_arguments)
    return lesson.execute(run, args, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr)


if __name__ == "__main__":
    main()
