"""Export to ONNX: ``fastnn.onnx.export(model, "model.onnx")``.

    import fastnn.onnx

    fastnn.onnx.export(model, "model.onnx")                        # a built model
    fastnn.onnx.export(model, "model.onnx", input_shape=(1, 8, 8))  # one never called

    import onnxruntime as ort
    session = ort.InferenceSession("model.onnx")
    logits = session.run(None, {"input": x.astype(np.float32)})[0]

The file is a standard ONNX model (written with the ``onnx`` package, which is needed only
here: ``pip install onnx``, or ``pip install "fastnn[onnx]"``; ``import fastnn`` never
imports it). The model's forward pass is traced in inference mode: layer calls and the ops
between them, so Sequential models and subclassed models with their own ``call`` export
alike. Inputs and outputs have a symbolic batch axis "batch"; weights are initializers in
the model's dtype. What has no ONNX form raises ``ExportError`` naming the layer or op,
and no file is written. The guide is docs/training.md ("Exporting to ONNX"); how models
become graphs is in docs/design.md.

Modules: ``exporter`` (the steps of ``export``), ``tracer`` (running and recording the
model), ``convert`` (from a trace to nodes), ``ops`` (a converter per fastnn op),
``recurrent`` (SimpleRNN, LSTM, GRU as ONNX's recurrent ops), ``activations``,
``graph`` (the graph as plain data, and the ``onnx.ModelProto`` made from it), ``errors``.
"""

from .errors import ExportError
from .exporter import export

__all__ = ["ExportError", "export"]
