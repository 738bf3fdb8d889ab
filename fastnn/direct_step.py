"""fit's training step without the autograd graph, for plain stacks of layers.

The graph step (``trainer.train_step``) records a node and a Tensor per op, checks every
op's arguments, orders the nodes before backward, and walks the optimizer's groups. At a
batch of 64 on a small MLP that Python costs more than the arithmetic (bench/overhead.py,
``fit_step_mlp64``). For a model that is a chain of layers, none of it is needed: the
step below runs each layer's op on arrays, keeps the ops in a list, and runs their
``backward`` in reverse order. These are the same ``Function`` objects the graph would
record, so the same kernels run in the same order on the same arrays, and the numbers
equal the graph step's (tests/test_direct_step.py trains both ways and compares).

Nothing is checked here: fit has validated the whole data set before the first step
(``trainer.checked_loader``: feature shapes, dtypes, label ranges), and the plan below
checks the model once per fit.

A layer takes part by defining two methods:

* ``direct_params()``: the weights whose gradients its op's ``backward`` returns after the
  input's, in that order; None when this layer's configuration has no direct form.
* ``direct_call(x, backend, need_input_grad) -> (y, op)``: its training-mode call on a
  C-contiguous array, and the op whose ``backward(gy)`` gives ``(gx, *weight gradients)``
  (op None: y is x, nothing to differentiate).

A loss takes part with ``direct_call(pred, target, backend) -> (loss, op)``, where ``op``'s
backward of the seed 1 returns the prediction's gradient first.

Frozen layers (``layer.trainable = False``) take part too: their weights get no gradient
and no update, as in the graph step, where they have requires_grad=False; the layers
before the first one that trains run no backward at all. The plan is made from the flags
of the moment, so fit plans again when a flag changes, a layer's ``trainable`` or a
weight's ``requires_grad`` (``FLAG_CHANGES`` in fastnn/tensor.py, read once a step).
"""

from __future__ import annotations

from .optim.optimizers import Optimizer
from .tensor import Tensor


class DirectStep:
    """One training step of ``model`` on arrays: forward layer by layer, the loss and its
    gradient, backward in reverse, the optimizer's update. Make it with ``plan``."""

    def __init__(self, model, layers, params, backward_from):
        self.backend = model._backend
        self.loss = model.loss
        self.optimizer = model.optimizer
        # params: per layer, (parameter, its optimizer group, its place in the optimizer's order,
        # the position of its gradient in op.backward's result) for the weights that train. The
        # update runs in the optimizer's order, as step() does (a global clipping norm sums in
        # that order).
        self.count = sum(len(p) for p in params)
        # Layers before the first one whose weights train need no backward (nothing below wants a gradient).
        self.backward_from = backward_from
        self.calls = [(layer.direct_call, index > backward_from) for index, layer in enumerate(layers)]
        # Backward, last layer first: (layer index, its (parameter, group, place, position of the
        # parameter's gradient in op.backward's result)).
        self.backward_order = [(index, params[index]) for index in range(len(layers) - 1, backward_from - 1, -1)]
        self.seeds: dict = {}   # dtype -> the 0-d one Tensor.backward seeds a loss with (never written)

    @classmethod
    def plan(cls, model, regularizers) -> DirectStep | None:
        """The direct step for ``model`` as compiled and frozen now, or None when fit must
        run the graph step: a model that is not a built Sequential on a host backend; a layer
        or loss without a direct form, or a subclass that overrides ``call``; penalties (graph
        ops on the weights); an optimizer that overrides ``step`` or ``zero_grad``, that holds
        tensors other than the model's weights, or whose unfrozen parameters are not exactly
        the model's trainable weights; a weight shared between layers; a weight of a
        trainable layer with requires_grad switched off by hand; no layer that trains."""
        chain = model._direct_chain()
        if chain is None or not model.built or not model._backend.host_memory:
            return None
        if regularizers or not _mirrors_call(model.loss):
            return None
        optimizer = model.optimizer
        if not isinstance(optimizer, Optimizer) or type(optimizer).step is not Optimizer.step \
                or type(optimizer).zero_grad is not Optimizer.zero_grad:
            return None
        # model.parameters() and model.weights from one walk of the layer tree (fit plans at
        # every call; two walks cost more than the rest of the plan)
        entries = model._weight_entries()
        model_params = {id(t) for owner, spec, t in entries if spec.trainable and owner.trainable}
        held = optimizer.parameters()
        # step() would also zero and skip weights of other models; frozen weights of this
        # one (compile hands them over) get no gradient and no update in either step.
        if not {id(p) for p in held} <= {id(t) for _, _, t in entries}:
            return None
        training = [p for p in held if id(p) in model_params]
        if {id(p) for p in training} != model_params:
            return None
        group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        # a parameter's place in the update: its position among the unfrozen parameters, in
        # the optimizer's order, which step() keeps (it skips the frozen ones)
        order = {id(p): i for i, p in enumerate(training)}
        layers, params, seen, backward_from = [], [], set(), None
        for index, layer in enumerate(chain):
            weights = _direct_params(layer)
            if weights is None:
                return None
            trained = []   # (parameter, its group, its place, position of its gradient in op.backward's result)
            for position, p in enumerate(weights, 1):
                if id(p) in seen:
                    return None
                seen.add(id(p))
                if id(p) in model_params:
                    if not p.requires_grad:
                        return None
                    trained.append((p, group_of[id(p)], order[id(p)], position))
            # a frozen layer's op still returns its weights' gradients: they are not taken
            if trained and backward_from is None:
                backward_from = index
            layers.append(layer)
            params.append(tuple(trained))
        if backward_from is None or not model_params <= seen:
            return None
        return cls(model, layers, params, backward_from)

    def __call__(self, xb, yb):
        """The batch's loss (a 0-d array) and the model's output (a Tensor, for the metrics)."""
        backend = self.backend
        x, ops = xb.data, []
        for direct_call, need_input_grad in self.calls:
            x, op = direct_call(x, backend, need_input_grad)
            ops.append(op)
        loss, loss_op = self.loss.direct_call(x, yb.data, backend)
        seed = self.seeds.get(loss.dtype)
        if seed is None:
            seed = self.seeds[loss.dtype] = backend.xp.ones((), dtype=loss.dtype)
        g = loss_op.backward(seed)[0]
        work = [None] * self.count
        contiguous, make = backend.contiguous, Tensor._make
        for index, weights in self.backward_order:
            op = ops[index]
            if op is None:
                continue
            grads = op.backward(contiguous(g))
            g = grads[0]
            for p, group, place, i in weights:
                grad = grads[i]
                p.grad = make(grad, backend)     # what the graph leaves on the weights
                work[place] = (group, p, grad)
        self.optimizer._apply(work)
        return loss, make(x, backend)


def _mirrors_call(obj) -> bool:
    """Whether ``obj`` has a direct form of the ``call`` it runs: the class that defines
    ``direct_call`` also defines the ``call`` its type resolves (a subclass that overrides
    ``call`` has none)."""
    owner = next((c for c in type(obj).__mro__ if "direct_call" in c.__dict__), None)
    return owner is not None and type(obj).call is owner.__dict__.get("call")


def _direct_params(layer):
    """``layer.direct_params()``, or None when the layer has no direct form."""
    return layer.direct_params() if _mirrors_call(layer) else None
