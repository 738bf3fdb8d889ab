"""Tensors: n-dimensional arrays with a rank, a shape and a dtype, that broadcast and move between backends.

A tensor is a rectangular block of numbers. Three things describe it:

    rank (ndim)  the number of axes:          0 scalar, 1 vector, 2 matrix, 3, 4, ...
    shape        the length of each axis:     () , (3,) , (2, 3) , (N, C, H, W)
    dtype        the type of every element:   float32 (the default for real numbers),
                                              float64 (gradient checks), int64 (labels), bool

Deep learning uses them everywhere: a scalar loss (rank 0), a bias vector (rank 1), a weight
matrix (rank 2), and a batch of N colour images of C=3 channels, H rows and W columns, stored
"NCHW" (rank 4): element x[n, c, h, w] is the brightness of channel c at pixel (h, w) of image n.

Broadcasting lets tensors of different shapes combine element by element without copying.
The shapes are lined up from the right; two axes fit when they are equal or one of them is 1,
and an axis of length 1 is repeated along the other's length (a missing axis counts as 1):

    column (3, 1)  +  row (1, 4)   ->   (3, 4)      out[i, j] = column[i, 0] + row[0, j]
    images (N, 3, H, W) + bias (3, 1, 1)  ->  (N, 3, H, W)   one bias per colour channel

A tensor lives on one backend ("numpy": the reference, "cpu": compiled Numba kernels,
"gpu": CuPy on an NVIDIA GPU). ``t.to("cpu")`` copies it to another backend; the numbers do
not change, only where the arithmetic on them runs. ``t.numpy()`` gives a host NumPy copy.

The script builds a tensor of each rank, prints its rank, shape and dtype, adds a column to a
row by broadcasting (and checks the result against NumPy), moves a tensor through every
backend available here and back, and draws the broadcast sum as a heat map.

    python examples/tensors.py [--backend numpy|cpu|gpu] [--quick] [--out DIR] [--seed N]
"""

import lesson
import numpy as np

import fastnn as fnn


def example_tensors(image_batch_shape):
    """One tensor of each rank, from Python numbers, lists and fastnn's random stream."""
    return {
        "scalar": fnn.tensor(3.5),                                   # rank 0: a loss, a learning rate
        "vector": fnn.tensor([0.1, 0.2, 0.3]),                        # rank 1: a bias
        "matrix": fnn.tensor(np.arange(6, dtype=np.float64).reshape(2, 3)),  # rank 2; a float64 array stays float64
        "labels": fnn.tensor([2, 0, 1]),                              # integers become int64 (class labels)
        "images": fnn.randn(*image_batch_shape),                      # rank 4: N images, C channels, H x W pixels
    }


def describe(tensors):
    """Print and return rank, shape and dtype of each tensor."""
    rows = {}
    for name, t in tensors.items():
        rows[name] = {"rank": t.ndim, "shape": list(t.shape), "dtype": str(t.dtype)}
        print(f"{name:>7}: rank {t.ndim}  shape {str(t.shape):<16} dtype {t.dtype}")
    return rows


def broadcast_column_plus_row():
    """(3, 1) + (1, 4) -> (3, 4): every row entry added to every column entry."""
    column = fnn.tensor([[0.0], [1.0], [2.0]])          # shape (3, 1)
    row = fnn.tensor([[0.0, 10.0, 20.0, 30.0]])         # shape (1, 4)
    total = column + row                                # shape (3, 4), no copies of column or row made by hand
    expected = column.numpy() + row.numpy()             # NumPy's broadcasting, the reference
    print(f"broadcast: {column.shape} + {row.shape} -> {total.shape}")
    return column, row, total, bool(np.array_equal(total.numpy(), expected))


def broadcast_channel_bias(images):
    """A per-channel bias of shape (C, 1, 1) added to an NCHW batch shifts each channel."""
    channels = images.shape[1]
    bias = fnn.tensor(np.arange(channels, dtype=np.float32).reshape(channels, 1, 1) * 100.0)
    shifted = images + bias
    # channel c moved by exactly 100 c everywhere: a mean over (N, H, W) shows it
    shift_per_channel = (shifted - images).numpy().mean(axis=(0, 2, 3))
    return shifted.shape, shift_per_channel


def move_through_backends(t):
    """Copy ``t`` to every backend available here and back; the values must not change."""
    reference = t.numpy()
    visited, preserved = [], True
    for name in fnn.available_backends():   # "gpu" only where CuPy and a CUDA device answer
        moved = t.to(name)
        back = moved.to(t.backend)
        same = np.array_equal(moved.numpy(), reference) and np.array_equal(back.numpy(), reference)
        same = same and moved.dtype == t.dtype and moved.shape == t.shape
        print(f"  {t.backend} -> {moved.backend} -> {back.backend}: values unchanged = {same}")
        visited.append(moved.backend)
        preserved = preserved and same
    return visited, preserved


def plot_broadcast(column, row, total, out):
    fig, ax = lesson.figure(figsize=(5.5, 3.5))
    values = total.numpy()
    image = ax.imshow(values, cmap="viridis")
    for (i, j), v in np.ndenumerate(values):
        ax.text(j, i, f"{v:g}", ha="center", va="center", color="white" if v < values.max() / 2 else "black")
    ax.set_xticks(range(values.shape[1]), [f"row {v:g}" for v in row.numpy().ravel()])
    ax.set_yticks(range(values.shape[0]), [f"col {v:g}" for v in column.numpy().ravel()])
    ax.set_title(f"broadcasting: column {column.shape} + row {row.shape} -> {total.shape}")
    fig.colorbar(image, ax=ax)
    lesson.save_figure(fig, out, "broadcast.png")


def run(backend="cpu", quick=False, out=".", seed=0) -> dict:
    """Rank/shape/dtype of example tensors, broadcasting, and moves between backends."""
    image_batch_shape = (2, 3, 4, 4) if quick else (8, 3, 32, 32)
    tensors = example_tensors(image_batch_shape)
    rows = describe(tensors)

    column, row, total, matches_numpy = broadcast_column_plus_row()
    images_shape, shift_per_channel = broadcast_channel_bias(tensors["images"])
    print(f"per-channel bias: {tensors['images'].shape} + (3, 1, 1) -> {images_shape}, "
          f"shift per channel {shift_per_channel}")

    print(f"moving a {tensors['matrix'].shape} tensor from {tensors['matrix'].backend}:")
    visited, preserved = move_through_backends(tensors["matrix"])
    plot_broadcast(column, row, total, out)

    return {
        "names": list(rows),
        "ranks": [r["rank"] for r in rows.values()],
        "shapes": [r["shape"] for r in rows.values()],
        "dtypes": [r["dtype"] for r in rows.values()],
        "tensor_backend": tensors["scalar"].backend,
        "broadcast_column": column.numpy().tolist(),
        "broadcast_row": row.numpy().tolist(),
        "broadcast_result": total.numpy().tolist(),
        "broadcast_shape": list(total.shape),
        "broadcast_matches_numpy": matches_numpy,
        "channel_bias_shape": list(images_shape),
        "channel_shift": [float(v) for v in shift_per_channel],
        "backends_visited": visited,
        "moves_preserve_values": preserved,
    }


def main(argv=None) -> dict:
    return lesson.execute(run, lesson.parse_args(__file__, __doc__, argv))


if __name__ == "__main__":
    main()
