"""fastnn.onnx.export: the exported file passes onnx.checker and onnxruntime computes what
``model.predict`` computes, for the zoo, every layer type and activation, subclassed and
multi-input models, lesson models, float32 and float64, any batch size; what cannot be
exported raises ExportError naming it and writes nothing.

Which float64 models onnxruntime runs: its CPU provider has no double kernels for Conv,
AveragePool, Elu, Softplus, Erf (gelu), RNN, LSTM and GRU (``ORT_CPU_NO_DOUBLE``); those
export as valid float64 ONNX (checked), and every other layer's float64 export is run.
Tolerances: tests/tolerances.py's error measure, 1e-5 for float32 and 1e-8 for float64
(ONNX keeps float attributes -- leaky_relu's alpha, batch norm's epsilon -- in float32).
Everything runs on the numpy backend (the export reads weights, whatever the backend).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from example_scripts import load
from tolerances import assert_close

import fastnn as fnn
import fastnn.functional as F
import fastnn.onnx as fonnx
from fastnn import zoo
from fastnn.function import Function
from fastnn.layers import (GRU, LSTM, Activation, Add, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout,
                           Embedding, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input, Layer,
                           MaxPooling2D, ResidualBlock, SimpleRNN, SyncBatchNormalization)
from fastnn.tensor import Tensor

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

RTOL = {"float32": 1e-5, "float64": 1e-8}
ORT_CPU_NO_DOUBLE = ("Conv", "AveragePool", "Elu", "Softplus", "Erf", "RNN", "LSTM", "GRU")
ACTIVATIONS = ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "gelu", "softplus", "step", "softmax",
               "log_softmax", "linear")


@pytest.fixture(scope="module", autouse=True)
def numpy_backend():
    state = fnn.get_rng_state()
    with fnn.use_backend("numpy"):
        yield
    fnn.set_rng_state(state)


def randomized(model, seed=0):
    """``model`` with random weights (biases and batch-norm statistics too; variances > 0)."""
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(rng.normal(1.0, 0.5, w.shape)) + 0.1 if name.endswith("running_var")
                       else rng.normal(0.0, 0.5, w.shape) for name, w in model.named_weights()])
    return model


def export_and_load(model, path, **options):
    """Export, check the file with onnx.checker, and open an onnxruntime session on it."""
    written = fonnx.export(model, path, **options)
    assert written == path and path.exists()
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def assert_runs_like_predict(session, model, x, dtype="float32"):
    (out,) = session.run(None, {"input": x})
    assert out.dtype == np.dtype(dtype)
    assert_close(out, model.predict(x, batch_size=len(x)), dtype=dtype, rtol=RTOL[dtype])


def inputs(shape, batch=7, dtype="float32", seed=1):
    return np.random.default_rng(seed).normal(size=(batch, *shape)).astype(dtype)


# -- the zoo, trained a few steps on 8x8 digits --------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    (x, y), _ = fnn.datasets.load_digits(flat=False)
    return x[:96], y[:96]


@pytest.mark.parametrize("name", sorted(zoo.MODELS))
def test_zoo_models_match_predict_at_any_batch_size(name, digits, tmp_path):
    x, y = digits
    model = zoo.build(name, (1, 8, 8), 10)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    for layer in model._walk():   # the running statistics moved away from their start
        if isinstance(layer, BatchNormalization):
            assert np.abs(layer.running_mean.numpy()).max() > 1e-3
    session = export_and_load(model, tmp_path / f"{name}.onnx")
    for batch in (1, 7):      # one export, any batch
        assert_runs_like_predict(session, model, x[:batch])


# -- every layer type, alone or in small models ----------------------------------------------------
LAYER_CASES = {
    "dense": ((6,), lambda: [Dense(4)]),
    "dense_no_bias_3d_input": ((3, 6), lambda: [Dense(4, use_bias=False)]),
    "conv_stride2_same_even_kernel": ((2, 7, 6), lambda: [Conv2D(3, 2, strides=2, padding="same")]),
    "conv_padding_pair_no_bias": ((2, 5, 5), lambda: [Conv2D(3, (3, 2), padding=(1, 2), use_bias=False)]),
    "conv_padding_4_tuple_relu": ((1, 5, 5), lambda: [Conv2D(2, 3, padding=(0, 1, 2, 1), activation="relu")]),
    "max_pool_valid_strides": ((2, 7, 7), lambda: [MaxPooling2D(3, strides=2)]),
    "max_pool_same": ((2, 5, 5), lambda: [MaxPooling2D(2, padding="same")]),
    "avg_pool_valid": ((2, 6, 6), lambda: [AveragePooling2D(2)]),
    "avg_pool_same": ((2, 5, 5), lambda: [AveragePooling2D(2, padding="same")]),   # mean of real cells
    "avg_pool_padding_counts": ((2, 5, 5), lambda: [AveragePooling2D(3, strides=1, padding=1)]),
    "global_avg_pool": ((3, 4, 5), lambda: [GlobalAveragePooling2D()]),
    "global_max_pool": ((3, 4, 5), lambda: [GlobalMaxPooling2D()]),
    "flatten_dropout": ((2, 3, 4), lambda: [Flatten(), Dropout(0.5), Dense(3)]),
    "dropout_alone_is_the_identity": ((3,), lambda: [Dropout(0.5)]),
    "nested_sequential": ((4,), lambda: [fnn.Sequential([Dense(3), Activation("relu")]), Dense(2)]),
    "batch_norm_images": ((3, 4, 4), lambda: [BatchNormalization()]),
    "batch_norm_features_no_affine": ((5,), lambda: [BatchNormalization(center=False, scale=False)]),
    "sync_batch_norm": ((3, 4, 4), lambda: [SyncBatchNormalization(epsilon=1e-2)]),
    "residual_block_identity": ((4, 6, 6), lambda: [ResidualBlock(4)]),
    "residual_block_projection": ((2, 6, 6), lambda: [ResidualBlock(4, strides=2)]),
    **{f"{cls.__name__}_{'sequences' if every else 'last'}": ((5, 3), lambda cls=cls, every=every: [
        cls(4, return_sequences=every)]) for cls in (SimpleRNN, LSTM, GRU) for every in (True, False)},
    "rnn_stack_no_bias": ((6, 3), lambda: [GRU(4, return_sequences=True, use_bias=False), LSTM(3)]),
    "lstm_other_activations": ((5, 3), lambda: [LSTM(4, activation="leaky_relu", recurrent_activation="tanh",
                                                     return_sequences=True)]),
    "gru_other_activations": ((5, 3), lambda: [GRU(4, activation="elu", recurrent_activation=F.sigmoid)]),
    "simple_rnn_relu": ((5, 3), lambda: [SimpleRNN(4, activation="relu")]),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_each_layer_matches_predict(case, tmp_path):
    shape, layers = LAYER_CASES[case]
    model = randomized(fnn.Sequential([Input(shape), *layers()]))
    session = export_and_load(model, tmp_path / "model.onnx")
    assert_runs_like_predict(session, model, inputs(shape))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_every_activation_as_layer_and_fused_argument(name, tmp_path):
    assert set(ACTIVATIONS) == set(fnn.ops.activations.NAMES)   # a new activation needs a row here
    model = randomized(fnn.Sequential([Input((2, 5, 5)), Conv2D(3, 3, activation=name), Flatten(),
                                       Dense(6, activation=name), Activation(name)]))
    session = export_and_load(model, tmp_path / "model.onnx")
    x = inputs((2, 5, 5))
    assert_runs_like_predict(session, model, x)


def test_embedding_takes_int64_ids_of_any_shape(tmp_path):
    model = randomized(fnn.Sequential([Input((4,)), Embedding(11, 3), LSTM(5), Dense(2)]))
    session = export_and_load(model, tmp_path / "model.onnx")
    assert session.get_inputs()[0].type == "tensor(int64)"
    ids = np.random.default_rng(0).integers(0, 11, (7, 4))
    assert_runs_like_predict(session, model, ids)


# -- subclassed models ---------------------------------------------------------------------------------
class Glue(fnn.Model):
    """Layers, and the tensor ops between them that a ``call`` may use."""

    def __init__(self):
        super().__init__()
        self.conv = Conv2D(4, 3, padding="same")
        self.bn = BatchNormalization()
        self.dense = Dense(8, activation="tanh")
        self.other = Dense(8)
        self.out = Dense(3)
        self.add = Add()

    def call(self, x, training=None):
        h = F.leaky_relu(self.bn(self.conv(x)), alpha=0.3)            # (N, 4, 4, 4)
        pooled = fnn.concatenate([h.mean(axis=(2, 3)), h.max(axis=(2, 3))[..., ::-1]], axis=1)   # (N, 8)
        flat = h.reshape(h.shape[0], -1)[:, ::4].transpose(1, 0).T   # (N, 16)
        a = self.add([self.dense(flat[:, :8]), self.other(pooled)])
        b = F.elu(1.0 - a * 0.5, alpha=0.7) / 3 + (a ** 2).sum(axis=1, keepdims=True) ** 0.5
        steps = fnn.unstack(fnn.stack([a, b, -b], axis=1), axis=1)    # three (N, 8)
        c = (steps[0] @ self.other.kernel).clip(-1.0, None) + (steps[2] - steps[1]).abs().exp().log()
        pair = fnn.concatenate([c[:, None, :3], c[:, None, 3:6]], axis=1)               # (N, 2, 3)
        logits = self.out(F.relu(c @ self.other.kernel.T)) + F.softmax(pair, axis=1)[:, 0, :]
        logits = fnn.where(logits > 0.1, logits, flat[:, np.array([5, 0, 2])] - flat[:, [1, 1, 3]])
        return F.log_softmax(logits - logits.min(axis=1, keepdims=True), axis=-1)


def test_a_subclassed_model_with_ops_between_layers(tmp_path):
    model = Glue()
    model(inputs((1, 4, 4), batch=2))   # built by a call
    randomized(model)
    session = export_and_load(model, tmp_path / "glue.onnx")
    for batch in (1, 7):
        assert_runs_like_predict(session, model, inputs((1, 4, 4), batch=batch))


class TwoOutputs(fnn.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(3)

    def call(self, x, training=None):
        y = self.dense(x)
        return [F.tanh(y), y.sum(axis=0)]   # the second has no batch axis: a sum over the batch


def test_several_outputs_and_an_output_without_batch_axis(tmp_path):
    model = TwoOutputs()
    session = export_and_load(model, tmp_path / "two.onnx", input_shape=(4,))
    graph = onnx.load(str(tmp_path / "two.onnx")).graph
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in graph.output]
    assert [v.name for v in graph.output] == ["output_0", "output_1"] and dims == [["batch", 3], [3]]
    x = inputs((4,))
    for out, expected in zip(session.run(None, {"input": x}), model(x, training=False)):
        assert_close(out, expected.numpy(), dtype="float32", rtol=RTOL["float32"])


def test_multi_input_recommender_lesson(tmp_path):
    recommender = load("recommender")
    model = recommender.MatrixFactorization(n_users=20, n_items=15, factors=4, mean_rating=3.5)
    model([np.arange(2), np.arange(2)])   # built by a call
    randomized(model)
    session = export_and_load(model, tmp_path / "mf.onnx", input_shape=[(), ()])   # two id vectors
    assert [i.name for i in session.get_inputs()] == ["input_0", "input_1"]
    rng = np.random.default_rng(0)
    users, items = rng.integers(0, 20, 7), rng.integers(0, 15, 7)
    (out,) = session.run(None, {"input_0": users, "input_1": items})
    assert_close(out, model([users, items], training=False).numpy(), dtype="float32", rtol=RTOL["float32"])


@pytest.mark.parametrize("lesson,builder", [("xor_mlp", lambda m: m.make_network()),
                                            ("cnn", lambda m: m.build_cnn((1, 8, 8)))])
def test_lesson_models(lesson, builder, tmp_path):
    model = randomized(builder(load(lesson)))
    session = export_and_load(model, tmp_path / f"{lesson}.onnx")
    assert_runs_like_predict(session, model, inputs(model.input_shape))


# -- float64 -----------------------------------------------------------------------------------------------
FLOAT64_CASES = {
    "dense_activations": ((6,), lambda: [Dense(5, activation="relu"), Dense(5, activation="tanh"),
                                         Dense(5, activation="leaky_relu"), Activation("step"), Dense(4),
                                         Activation("log_softmax"), Activation("sigmoid"), Activation("softmax")]),
    "pooling_batch_norm": ((3, 6, 6), lambda: [BatchNormalization(), MaxPooling2D(2), GlobalMaxPooling2D(),
                                               BatchNormalization(), Dense(2)]),
    "global_average": ((3, 4, 4), lambda: [GlobalAveragePooling2D()]),
    "flatten": ((2, 3), lambda: [Flatten(), Dropout(0.1), Dense(3)]),
}
FLOAT64_NOT_IN_ORT = {
    "conv": ((1, 5, 5), lambda: [Conv2D(2, 3)]), "average_pool": ((1, 4, 4), lambda: [AveragePooling2D(2)]),
    "elu": ((3,), lambda: [Activation("elu")]), "softplus": ((3,), lambda: [Activation("softplus")]),
    "gelu": ((3,), lambda: [Activation("gelu")]), "simple_rnn": ((4, 2), lambda: [SimpleRNN(3)]),
    "lstm": ((4, 2), lambda: [LSTM(3)]), "gru": ((4, 2), lambda: [GRU(3)]),
}


@pytest.mark.parametrize("case", sorted(FLOAT64_CASES))
def test_float64_models_run_in_onnxruntime(case, tmp_path):
    shape, layers = FLOAT64_CASES[case]
    model = randomized(fnn.Sequential([Input(shape, dtype="float64"), *layers()]))
    session = export_and_load(model, tmp_path / "model.onnx")
    float_types = {w.data_type for w in onnx.load(str(tmp_path / "model.onnx")).graph.initializer}
    assert float_types - {onnx.TensorProto.INT64} <= {onnx.TensorProto.DOUBLE}   # no float32 weight
    assert session.get_inputs()[0].type == "tensor(double)"
    assert_runs_like_predict(session, model, inputs(shape, dtype="float64"), dtype="float64")


@pytest.mark.parametrize("case", sorted(FLOAT64_NOT_IN_ORT))
def test_float64_models_onnxruntime_cannot_run_are_still_valid_onnx(case, tmp_path):
    shape, layers = FLOAT64_NOT_IN_ORT[case]
    model = randomized(fnn.Sequential([Input(shape, dtype="float64"), *layers()]))
    path = tmp_path / "model.onnx"
    fonnx.export(model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    float_types = {w.data_type for w in proto.graph.initializer} - {onnx.TensorProto.INT64}
    assert float_types <= {onnx.TensorProto.DOUBLE}
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    assert {n.op_type for n in proto.graph.node} & set(ORT_CPU_NO_DOUBLE)
    x = inputs(shape, dtype="float64")
    try:
        (out,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})
    except Exception as error:   # the documented gap: no double kernel in onnxruntime's CPU provider
        assert "implementation" in str(error) or "double" in str(error), error
    else:                        # a newer onnxruntime that has one must agree
        assert_close(out, model.predict(x), dtype="float64", rtol=RTOL["float64"])


# -- the file -------------------------------------------------------------------------------------------------
def test_batch_axis_is_symbolic_and_weights_are_named_initializers(tmp_path):
    model = randomized(fnn.Sequential([Input((3, 4)), Flatten(), Dense(5, name="hidden"), Dense(2, name="out")]))
    path = fonnx.export(model, tmp_path / "model.onnx")
    graph = onnx.load(str(path)).graph
    dims = [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in (*graph.input, *graph.output)]
    assert dims == [["batch", 3, 4], ["batch", 2]]
    weights = {w.name: onnx.numpy_helper.to_array(w) for w in graph.initializer}
    np.testing.assert_array_equal(weights["hidden/kernel"], model.get_layer("hidden").kernel.numpy())
    assert weights["out/bias"].dtype == np.float32


@pytest.mark.parametrize("opset", [13, 18, 21])
def test_opsets(opset, tmp_path):
    model = randomized(fnn.Sequential([Input((2, 4, 4)), Conv2D(3, 3), GlobalAveragePooling2D(), Dense(2)]))
    session = export_and_load(model, tmp_path / "model.onnx", opset=opset)
    assert onnx.load(str(tmp_path / "model.onnx")).opset_import[0].version == opset
    assert_runs_like_predict(session, model, inputs((2, 4, 4)))


def test_export_changes_nothing(tmp_path):
    model = randomized(fnn.Sequential([Input((4,)), Dense(3), BatchNormalization(), Dropout(0.5), Dense(2)]))
    weights, state = model.get_weights(), fnn.get_rng_state()
    apply, numpy_method = Function.__dict__["apply"], Tensor.__dict__["numpy"]
    fonnx.export(model, tmp_path / "model.onnx")
    for before, after in zip(weights, model.get_weights()):
        np.testing.assert_array_equal(before, after)
    assert fnn.get_rng_state() == state
    assert Function.__dict__["apply"] is apply and Tensor.__dict__["numpy"] is numpy_method
    assert not any("_invoke_call" in layer.__dict__ for layer in model._walk())
    assert all(layer.training for layer in model._walk())   # still in training mode


# -- what cannot be exported ------------------------------------------------------------------------------
class ThroughNumpy(Layer):
    def call(self, x):
        return fnn.tensor(np.sin(x.numpy()))


class BranchOnValues(fnn.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x, training=None):
        y = self.dense(x)
        return F.relu(y) if y.sum() > 0 else y


class BatchSizedState(fnn.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x, training=None):
        return self.dense(x) + fnn.ones(x.shape[0], 2)


class AlwaysDropping(fnn.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x, training=None):
        return F.dropout(self.dense(x), 0.5, True)


class LossInCall(fnn.Model):
    def __init__(self):
        super().__init__()
        self.dense = Dense(2)

    def call(self, x, training=None):
        y = self.dense(x)
        return F.mse(y, y * 0.5)


@pytest.mark.parametrize("make,input_shape,expected", [
    (lambda: fnn.Sequential([Input((3,)), Dense(2), ThroughNumpy(name="sine")]), None,
     ["ThroughNumpy 'sine'", "Tensor.numpy"]),
    (BranchOnValues, (3,), ["BranchOnValues", "Tensor.__bool__"]),
    (BatchSizedState, (3,), ["BatchSizedState", "(2, 2)", "(3, 2)", "batch"]),
    (AlwaysDropping, (3,), ["AlwaysDropping", "op Dropout", "training"]),
    (LossInCall, (3,), ["LossInCall", "has no ONNX mapping"]),
    (lambda: fnn.Sequential([Input((4, 3)), LSTM(2, activation="gelu", name="memory")]), None,
     ["LSTM 'memory'", "'gelu'"]),
])
def test_what_has_no_onnx_form_raises_naming_it_and_writes_nothing(make, input_shape, expected, tmp_path):
    with pytest.raises(fonnx.ExportError) as caught:
        fonnx.export(make(), tmp_path / "model.onnx", input_shape=input_shape)
    for part in expected:
        assert part in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert list(tmp_path.iterdir()) == []


def test_input_shape_is_needed_only_for_a_model_never_built(tmp_path):
    model = fnn.Sequential([Dense(3), Dense(2)])
    with pytest.raises(fonnx.ExportError, match=r"input_shape is needed.*never built"):
        fonnx.export(model, tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []
    session = export_and_load(model, tmp_path / "model.onnx", input_shape=(4,))
    assert_runs_like_predict(session, model, inputs((4,)))
    fonnx.export(model, tmp_path / "again.onnx")   # built now: no input_shape needed
    # a layer that makes layers as it builds (the projection of a residual block)
    blocks = fnn.Sequential([ResidualBlock(4, strides=2), GlobalAveragePooling2D()])
    session = export_and_load(blocks, tmp_path / "blocks.onnx", input_shape=(2, 6, 6))
    assert_runs_like_predict(session, blocks, inputs((2, 6, 6)))


def test_bad_arguments(tmp_path):
    model = fnn.Sequential([Input((2,)), Dense(1)])
    path = tmp_path / "model.onnx"
    with pytest.raises(TypeError, match="export: model must be a fastnn model"):
        fonnx.export(Dense(2), path)
    with pytest.raises(TypeError, match="export: path must be"):
        fonnx.export(model, 3)
    with pytest.raises(ValueError, match=r"export: opset must be an int in \[13, "):
        fonnx.export(model, path, opset=12)
    with pytest.raises(TypeError, match="export: input_shape must be"):
        fonnx.export(model, path, input_shape="2")
    with pytest.raises(fonnx.ExportError, match="unknown"):
        fonnx.export(fnn.Sequential([Input((None, 2)), LSTM(2)]), path)
    with pytest.raises(fonnx.ExportError, match="unknown"):
        fonnx.export(model, path, input_shape=(0,))
    assert list(tmp_path.iterdir()) == []


def test_import_fastnn_never_imports_onnx_and_a_missing_onnx_says_how_to_install_it(tmp_path):
    code = ("import sys\n"
            "import fastnn as fnn, fastnn.onnx\n"
            "print('onnx imported:', 'onnx' in sys.modules)\n"
            "sys.modules['onnx'] = None   # as if it were not installed\n"
            "model = fnn.Sequential([fnn.layers.Input((2,)), fnn.layers.Dense(1)], backend='numpy')\n"
            "try:\n    fastnn.onnx.export(model, 'never.onnx')\n"
            "except ImportError as error:\n    print(type(error).__name__, error)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "onnx imported: False" in result.stdout
    assert 'ImportError fastnn.onnx.export needs the onnx package: pip install onnx (or pip install ' \
           '"fastnn[onnx]")' in result.stdout
    assert list(tmp_path.iterdir()) == []
