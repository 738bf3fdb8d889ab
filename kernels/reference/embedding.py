"""Embedding lookup: out[..., :] = W[idx[...], :];  dW[r] = sum of dy over the positions with idx == r."""

import numpy as np


def embedding_fwd(weight, indices):
    return weight[indices]


def embedding_bwd(indices, gy, num_embeddings):
    dim = gy.shape[-1]
    gw = np.zeros((num_embeddings, dim), dtype=gy.dtype)
    np.add.at(gw, indices.reshape(-1), gy.reshape(-1, dim))
    return gw
