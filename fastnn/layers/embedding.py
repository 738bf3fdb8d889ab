"""Embedding: integer ids -> learned vectors."""

from __future__ import annotations

from .. import regularizers
from ..ops.embedding import embedding
from .base import InputSpec, Layer
from .core import check_initializer, check_regularizer, initializer_config, positive_int


class Embedding(Layer):
    """out[..., :] = E[ids[...], :] for integer ids in [0, input_dim) of any shape (N, ...).

    ``embeddings`` E has shape (input_dim, output_dim), initialised U(-0.05, 0.05) (Keras'
    "uniform"); parameters: input_dim * output_dim. The gradient adds each output row's
    gradient into the row of E it came from (rows looked up twice get both). The weights
    are float32 unless ``dtype=`` says otherwise (the integer input sets no dtype).
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = positive_int(input_dim, "Embedding", "input_dim")
        self.output_dim = positive_int(output_dim, "Embedding", "output_dim")
        self.embeddings_initializer = check_initializer(embeddings_initializer, "Embedding", "embeddings_initializer")
        self.embeddings_regularizer = check_regularizer(embeddings_regularizer, "Embedding", "embeddings_regularizer")

    def build(self, input_shape):
        self.embeddings = self.add_weight("embeddings", (self.input_dim, self.output_dim),
                                          self.embeddings_initializer, regularizer=self.embeddings_regularizer)
        self.input_spec = InputSpec()  # sequences of any length

    def call(self, ids):
        return embedding(ids, self.embeddings)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.output_dim,)

    def get_config(self):
        config = super().get_config()
        config.update(input_dim=self.input_dim, output_dim=self.output_dim,
                      embeddings_initializer=initializer_config(self.embeddings_initializer),
                      embeddings_regularizer=regularizers.serialize(regularizers.get(self.embeddings_regularizer)))
        return config
