"""Generative adversarial networks: a generator learns to draw samples like the data by trying to fool a discriminator.

A GAN (Goodfellow et al., 2014) is two networks trained against each other:

    G(z)   the generator: turns noise z ~ N(0, I) into a sample (a point, an image)
    D(x)   the discriminator: a logit; sigmoid(D(x)) is its probability that x is real

They play the game

    min_G max_D  V(D, G) = E_x~data[ log sigmoid(D(x)) ] + E_z[ log(1 - sigmoid(D(G(z)))) ]

G never sees the data: everything it learns comes through D's gradient. Training
alternates two steps on mini-batches, each a binary cross-entropy from logits,
BCE(d, t) = -[t log sigmoid(d) + (1 - t) log(1 - sigmoid(d))]:

    discriminator step   L_D = BCE(D(x), 1) + BCE(D(G(z)), 0)       update D only
    generator step       L_G = BCE(D(G(z)), 1) = -log sigmoid(D(G(z)))    update G only

L_G is the "non-saturating" generator loss. The game's own term, log(1 - sigmoid(D(G(z)))),
has gradient -sigmoid(d) with respect to the logit d: early on D rejects the fakes
easily (d << 0), so that gradient vanishes and G learns nothing. -log sigmoid(d) has
gradient -(1 - sigmoid(d)), largest exactly then. At the game's equilibrium D cannot
tell real from fake, sigmoid(D) = 1/2 everywhere, so L_D -> 2 ln 2 = 1.386 and
L_G -> ln 2 = 0.693: the loss curves hover near there instead of falling to zero.

Two models, two optimizers (Adam with beta_1 = 0.5: a short memory of past gradients
suits a target that keeps moving; lr 1e-3 for the mixture, 2e-3 for the digits), one
hand-written loop. Each step must update one network only:
  * in the discriminator step the fake batch is G(z).detach(): no gradient flows back
    into G, so the backward pass stops at the fakes;
  * in the generator step D's weights are frozen (requires_grad = False): the gradient
    flows through D to the fakes and on into G, but D's weights collect none;
  * both optimizers' zero_grad() run before each step, so no gradient left over from one
    step leaks into the other. The script counts the gradients each step leaves on the
    other network (both counts must be 0).
G uses ReLU hidden units; D uses leaky ReLU (slope 0.01 below zero), so that D passes a
gradient back to G even where a unit is off.

Part 1: a mixture of Gaussians on a ring (fastnn.datasets.mixtures): K equally weighted
modes with centres c_k = r (cos 2 pi k / K, sin 2 pi k / K) and standard deviation s
(r = 1). Every generated point is assigned to its nearest centre. Two numbers judge the
generator:
  * coverage: how many modes receive at least half their fair share, 1 / (2 K), of the
    samples. A collapsed generator ("mode collapse") covers one or two;
  * precision: the fraction of samples within 3 s of their centre (98.9% of real samples
    are; the untrained generator's small blob around the origin: none).
Quick mode uses K = 4 modes (s = 0.05, 600 steps), full mode K = 8 (s = 0.03, 3000
steps): narrower gaps between the modes make it harder. Between the modes you will
still see a thin trail of points: G is a continuous map of a connected noise space, so
it cannot jump from one mode to the next without passing through the gap.

Part 2: a conditional GAN (cGAN, Mirza & Osindero, 2014) on the 8x8 digits. The label y
goes in as a one-hot vector next to the usual inputs, so we can ask for a digit:

    G([z, onehot(y)]) -> 64 pixels in [0, 1] (sigmoid output)
    D([x, onehot(y)]) -> logit of "x is a real image of digit y"

Besides real pairs (x, y) -> 1 and fake pairs (G(z, y), y) -> 0, the discriminator also
sees real images with a wrong label (x, y') -> 0 (the "matching-aware" discriminator of
Reed et al., 2016). Without those, D can score the images alone and only slowly learns
that the label matters, and so does G; with them, conditioning is learned within a few
hundred steps (quick mode: 300 steps; full mode: 2000). In quick mode the samples of one
digit look much alike, a mild mode collapse within each class; longer training (full
mode) brings more variety.

To judge the result, an MLP classifier is trained on REAL digits (>= 90% test accuracy)
and asked to read the cGAN's samples of each requested digit: the fraction it reads as
the digit asked for is the cGAN's accuracy (chance: 10%; an untrained generator scores
about that).

You should see: the generated points sitting on the ring's modes, every mode taken; the
discriminator's loss near 1.39 and the generator's near 0.7-1 rather than either going to
zero; a grid of generated digits whose row k shows recognisable k's; the classifier
agreeing with the requested digit far above chance. The samples are also written to
gan_samples.npz (mixture points and centres, digit images and the digits asked for).

    python examples/gan.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

from dataclasses import dataclass

import lesson
import numpy as np

import fastnn as fnn
import fastnn.functional as F
from fastnn.datasets.mixtures import gaussian_mixture_2d, nearest_mode
from fastnn.layers import Dense, Input

DIGITS = 10
PIXELS = 64              # 8 x 8 images, flattened
NEAR_STDS = 3.0          # "near a mode": within 3 standard deviations of its centre
ADAM_BETAS = (0.5, 0.999)


# ---------------------------------------------------------------- the two networks and their game

def mlp(input_size, hidden_sizes, output_size, hidden_activation, output_activation=None):
    """A stack of Dense layers: input_size -> hidden_sizes... -> output_size."""
    layers = [Input((input_size,))]
    layers += [Dense(units, activation=hidden_activation) for units in hidden_sizes]
    layers.append(Dense(output_size, activation=output_activation))
    return fnn.Sequential(layers)


@dataclass
class GAN:
    """A generator and a discriminator, each with its own optimizer."""
    generator: fnn.Sequential
    discriminator: fnn.Sequential
    g_optimizer: object
    d_optimizer: object
    noise_size: int

    def __post_init__(self):
        # the weight lists, gathered once: the loop freezes and inspects them every step
        self.g_weights = self.generator.parameters()
        self.d_weights = self.discriminator.parameters()

    @classmethod
    def build(cls, noise_size, condition_size, sample_size, g_hidden, d_hidden, g_output_activation, lr):
        # D ends in a logit: the loss applies the sigmoid itself, stably
        generator = mlp(noise_size + condition_size, g_hidden, sample_size, "relu", g_output_activation)
        discriminator = mlp(sample_size + condition_size, d_hidden, 1, "leaky_relu")
        return cls(generator, discriminator,
                   fnn.optim.Adam(generator.parameters(), lr=lr, betas=ADAM_BETAS),
                   fnn.optim.Adam(discriminator.parameters(), lr=lr, betas=ADAM_BETAS), noise_size)

    def zero_grad(self):
        self.g_optimizer.zero_grad()
        self.d_optimizer.zero_grad()

    def generate(self, n, condition=None):
        """n samples G([z, condition]), z ~ N(0, I) from fastnn's seeded stream (a tensor with history)."""
        return self.generator(with_condition(fnn.randn(n, self.noise_size), condition))


def with_condition(x, condition):
    """[x, condition] side by side along the features (a cGAN's input), or x alone (a plain GAN)."""
    return x if condition is None else fnn.concatenate([x, condition], axis=1)


def set_requires_grad(weights, flag):
    """Freeze (False) or unfreeze (True) these weights: a frozen weight collects no gradient."""
    for weight in weights:
        weight.requires_grad = flag


def grads_present(weights) -> int:
    """How many of these weights hold a gradient right now."""
    return sum(weight.grad is not None for weight in weights)


def discriminator_step(gan, real, condition=None, wrong_condition=None):
    """L_D = BCE(D([x, y]), 1) + BCE(D([G(z, y), y]), 0) [+ BCE(D([x, y']), 0)]; updates D only.

    Returns (L_D, gradients this step left on G's weights: 0)."""
    gan.zero_grad()
    n = len(real)
    real = fnn.tensor(real)
    # detach(): the fakes become plain data, so backward() stops here and never reaches G
    fake = gan.generate(n, condition).detach()
    discriminator = gan.discriminator
    loss = (F.binary_crossentropy(discriminator(with_condition(real, condition)), np.ones((n, 1), np.float32))
            + F.binary_crossentropy(discriminator(with_condition(fake, condition)), np.zeros((n, 1), np.float32)))
    if wrong_condition is not None:
        # a real image with the wrong label is also "fake": D must check that image and label agree
        loss = loss + F.binary_crossentropy(discriminator(with_condition(real, wrong_condition)),
                                            np.zeros((n, 1), np.float32))
    loss.backward()
    gan.d_optimizer.step()
    return loss.item(), grads_present(gan.g_weights)


def generator_step(gan, n, condition=None):
    """L_G = BCE(D([G(z, y), y]), 1) (non-saturating); updates G only.

    Returns (L_G, gradients this step left on D's weights: 0)."""
    gan.zero_grad()
    set_requires_grad(gan.d_weights, False)   # the gradient passes through D but stays off its weights
    try:
        logits = gan.discriminator(with_condition(gan.generate(n, condition), condition))
        loss = F.binary_crossentropy(logits, np.ones((n, 1), np.float32))
        loss.backward()
        leaked = grads_present(gan.d_weights)
        gan.g_optimizer.step()
    finally:
        set_requires_grad(gan.d_weights, True)
    return loss.item(), leaked


def sample(gan, n, condition=None):
    """n generated samples as a host numpy array (no autograd history kept)."""
    with fnn.no_grad():
        return gan.generate(n, condition).numpy()


# ---------------------------------------------------------------- part 1: a ring of Gaussians

def mixture_scores(points, centres, std):
    """Each point's nearest mode -> (share of the points per mode, fraction within NEAR_STDS * std)."""
    index, distance = nearest_mode(points, centres)
    shares = np.bincount(index, minlength=len(centres)) / len(points)
    return shares, float(np.mean(distance <= NEAR_STDS * std))


def modes_covered(shares) -> int:
    """Modes that get at least half their fair share 1 / modes of the samples."""
    return int(np.sum(shares >= 0.5 / len(shares)))


def train_mixture_gan(config, seed):
    real, centres = gaussian_mixture_2d(config["steps"] * config["batch"], modes=config["modes"],
                                        radius=config["radius"], std=config["std"], seed=seed)
    gan = GAN.build(noise_size=2, condition_size=0, sample_size=2, g_hidden=(128, 128), d_hidden=(128, 128),
                    g_output_activation=None, lr=config["lr"])
    untrained = sample(gan, config["samples"])
    batch, losses, leaks = config["batch"], [], [0, 0]
    for step in range(config["steps"]):
        # every step a fresh batch of the mixture: the generator can never memorise points
        d_loss, leaks[0] = discriminator_step(gan, real[step * batch:(step + 1) * batch])
        g_loss, leaks[1] = generator_step(gan, batch)
        losses.append((d_loss, g_loss))
        if (step + 1) % config["log_every"] == 0:
            shares, near = mixture_scores(sample(gan, 500), centres, config["std"])
            print(f"mixture step {step + 1:5d}  L_D {d_loss:.3f}  L_G {g_loss:.3f}  "
                  f"modes covered {modes_covered(shares)}/{len(centres)}  near a mode {near:.2f}")
    return gan, real, centres, untrained, np.array(losses), leaks


def mixture_lesson(quick, seed):
    config = dict(modes=4, radius=1.0, std=0.05, steps=600, batch=64, lr=1e-3, samples=1000, log_every=100)
    if not quick:
        config.update(modes=8, std=0.03, steps=3000, batch=128, samples=4000, log_every=500)
    gan, real, centres, untrained, losses, leaks = train_mixture_gan(config, seed)
    generated = sample(gan, config["samples"])
    shares, near = mixture_scores(generated, centres, config["std"])
    untrained_shares, untrained_near = mixture_scores(untrained, centres, config["std"])
    _, real_near = mixture_scores(real[:config["samples"]], centres, config["std"])
    print(f"mixture: {modes_covered(shares)}/{len(centres)} modes covered, shares {np.round(shares, 3)}; "
          f"{near:.1%} of the samples within {NEAR_STDS:g} std of a mode "
          f"(real data {real_near:.1%}, untrained generator {untrained_near:.1%})")
    numbers = {
        "mixture_modes": config["modes"], "mixture_radius": config["radius"], "mixture_std": config["std"],
        "mixture_steps": config["steps"],
        "mixture_modes_covered": modes_covered(shares),
        "mixture_mode_shares": [float(s) for s in shares],
        "mixture_near_fraction": near,
        "mixture_real_near_fraction": real_near,
        "mixture_untrained_modes_covered": modes_covered(untrained_shares),
        "mixture_untrained_near_fraction": untrained_near,
        "mixture_d_loss": float(losses[-50:, 0].mean()),
        "mixture_g_loss": float(losses[-50:, 1].mean()),
        "mixture_g_grads_in_d_step": leaks[0],
        "mixture_d_grads_in_g_step": leaks[1],
    }
    return numbers, dict(real=real[:config["samples"]], generated=generated, centres=centres,
                         losses=losses, std=config["std"])


# ---------------------------------------------------------------- part 2: a conditional GAN on digits

def one_hot(labels):
    return np.eye(DIGITS, dtype=np.float32)[labels]


def train_classifier(x_train, y_train, x_test, y_test, epochs):
    """The judge: an MLP trained on real digits only; returns it and its test accuracy."""
    classifier = mlp(PIXELS, (64,), DIGITS, "relu")
    classifier.compile(optimizer=fnn.optim.Adam(lr=3e-3), loss="sparse_categorical_crossentropy")
    classifier.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    return classifier, float(np.mean(classifier.predict(x_test).argmax(axis=1) == y_test))


def requested_digits(per_digit):
    """0, 0, ..., 1, 1, ...: ``per_digit`` requests of each digit."""
    return np.repeat(np.arange(DIGITS), per_digit)


def conditional_accuracy(gan, classifier, per_digit):
    """Generate ``per_digit`` images of each digit; the fraction (overall, per digit) the classifier reads as asked."""
    labels = requested_digits(per_digit)
    images = sample(gan, len(labels), fnn.tensor(one_hot(labels)))
    read = classifier.predict(images).argmax(axis=1)
    per_digit_accuracy = [float(np.mean(read[labels == d] == d)) for d in range(DIGITS)]
    return float(np.mean(read == labels)), per_digit_accuracy, images, labels


def digit_gan(lr):
    """G: [16 noise values, one-hot digit] -> 128 -> 64 pixels; D: [64 pixels, one-hot digit] -> 128 -> logit."""
    return GAN.build(noise_size=16, condition_size=DIGITS, sample_size=PIXELS, g_hidden=(128,), d_hidden=(128,),
                     g_output_activation="sigmoid", lr=lr)     # sigmoid: pixels in [0, 1], like the data


def train_conditional_gan(x_train, y_train, config, seed):
    rng = np.random.default_rng(seed)     # which real images and which labels each batch uses
    gan = digit_gan(config["lr"])
    batch, losses, leaks = config["batch"], [], [0, 0]
    for step in range(config["steps"]):
        pick = rng.integers(0, len(x_train), batch)
        labels = y_train[pick]
        wrong = (labels + rng.integers(1, DIGITS, batch)) % DIGITS      # any label but the true one
        d_loss, leaks[0] = discriminator_step(gan, x_train[pick], fnn.tensor(one_hot(labels)),
                                              fnn.tensor(one_hot(wrong)))
        asked = rng.integers(0, DIGITS, batch)                        # the generator is asked for every digit
        g_loss, leaks[1] = generator_step(gan, batch, fnn.tensor(one_hot(asked)))
        losses.append((d_loss, g_loss))
        if (step + 1) % config["log_every"] == 0:
            print(f"cgan step {step + 1:5d}  L_D {d_loss:.3f}  L_G {g_loss:.3f}")
    return gan, np.array(losses), leaks


def digits_lesson(quick, seed):
    config = dict(steps=300, batch=64, lr=2e-3, classifier_epochs=10, per_digit=50, log_every=100)
    if not quick:
        config.update(steps=2000, classifier_epochs=30, per_digit=200, log_every=250)
    (x_train, y_train), (x_test, y_test) = fnn.datasets.load_digits()
    classifier, classifier_accuracy = train_classifier(x_train, y_train, x_test, y_test, config["classifier_epochs"])
    print(f"classifier trained on real digits: test accuracy {classifier_accuracy:.3f}")
    gan, losses, leaks = train_conditional_gan(x_train, y_train, config, seed)
    accuracy, per_digit, images, labels = conditional_accuracy(gan, classifier, config["per_digit"])
    untrained_accuracy, *_ = conditional_accuracy(digit_gan(config["lr"]), classifier, config["per_digit"])
    print(f"cGAN: the classifier reads {accuracy:.1%} of the generated digits as the digit asked for "
          f"(chance 10%, untrained generator {untrained_accuracy:.1%}); per digit {np.round(per_digit, 2)}")
    numbers = {
        "classifier_test_accuracy": classifier_accuracy,
        "cgan_steps": config["steps"],
        "cgan_accuracy": accuracy,
        "cgan_per_digit_accuracy": per_digit,
        "cgan_untrained_accuracy": untrained_accuracy,
        "cgan_d_loss": float(losses[-50:, 0].mean()),
        "cgan_g_loss": float(losses[-50:, 1].mean()),
        "cgan_g_grads_in_d_step": leaks[0],
        "cgan_d_grads_in_g_step": leaks[1],
    }
    return numbers, dict(images=images, labels=labels, losses=losses)


# ---------------------------------------------------------------- plots

def plot_mixture(mixture, out):
    fig, axes = lesson.figure(1, 3, figsize=(15, 4.8))
    real_ax, fake_ax, loss_ax = axes.ravel()
    centres, std = mixture["centres"], mixture["std"]
    limit = 1.3 * float(np.abs(centres).max()) + 0.3
    for ax, points, title, color in ((real_ax, mixture["real"], "real samples", "tab:gray"),
                                     (fake_ax, mixture["generated"], "generated samples G(z)", "tab:orange")):
        ax.scatter(points[:, 0], points[:, 1], s=4, alpha=0.5, color=color)
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", color="k", s=60, label="mode centres")
        for cx, cy in centres:   # the "near a mode" discs: radius NEAR_STDS * std
            ax.add_patch(_circle((cx, cy), NEAR_STDS * std))
        ax.set(xlim=(-limit, limit), ylim=(-limit, limit), aspect="equal", title=title, xlabel="x1", ylabel="x2")
        ax.legend(loc="upper right")
    _plot_losses(loss_ax, mixture["losses"], "mixture GAN losses")
    lesson.save_figure(fig, out, "gan_mixture.png")


def _circle(centre, radius):
    from matplotlib.patches import Circle

    return Circle(centre, radius, fill=False, color="k", lw=0.8, ls="--")


def _plot_losses(ax, losses, title):
    steps = np.arange(1, len(losses) + 1)
    window = max(1, len(losses) // 50)     # a running mean: single steps are noisy
    kernel = np.ones(window) / window
    for column, name in ((0, "discriminator L_D"), (1, "generator L_G")):
        ax.plot(steps[window - 1:], np.convolve(losses[:, column], kernel, mode="valid"), label=name)
    ax.axhline(2 * np.log(2), color="tab:blue", ls=":", label="2 ln 2 (D at equilibrium)")
    ax.axhline(np.log(2), color="tab:orange", ls=":", label="ln 2 (G at equilibrium)")
    ax.set(title=title, xlabel="step", ylabel="binary cross-entropy")
    ax.legend()


def plot_digits(digits, out, columns=10):
    """Row k: ``columns`` generated images of the requested digit k, tiled into one picture."""
    images, labels = digits["images"], digits["labels"]
    rows = []
    for digit in range(DIGITS):
        chosen = images[labels == digit][:columns].reshape(-1, 8, 8)
        padded = np.pad(chosen, ((0, 0), (1, 1), (1, 1)), constant_values=0.15)   # a light grey frame per image
        rows.append(np.concatenate(list(padded), axis=1))
    mosaic = np.concatenate(rows, axis=0)
    fig, axes = lesson.figure(1, 2, figsize=(12, 5.6))
    grid_ax, loss_ax = axes.ravel()
    grid_ax.imshow(mosaic, cmap="gray_r", vmin=0.0, vmax=1.0, interpolation="nearest")
    grid_ax.set_yticks(np.arange(DIGITS) * 10 + 4.5, [str(d) for d in range(DIGITS)])
    grid_ax.set_xticks([])
    grid_ax.set(title="cGAN samples: row k = digit k requested", ylabel="requested digit")
    _plot_losses(loss_ax, digits["losses"], "cGAN losses")
    lesson.save_figure(fig, out, "gan_digits.png")


# ---------------------------------------------------------------- the lesson

def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Train a GAN on a ring of Gaussians and a conditional GAN on the 8x8 digits; score both."""
    mixture_numbers, mixture = mixture_lesson(quick, seed)
    digits_numbers, digits = digits_lesson(quick, seed)
    plot_mixture(mixture, out)
    plot_digits(digits, out)
    np.savez_compressed(f"{out}/gan_samples.npz", mixture_samples=mixture["generated"],
                        mixture_centres=mixture["centres"], digit_images=digits["images"],
                        digit_labels=digits["labels"])
    return {**mixture_numbers, **digits_numbers}


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
