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
        # params: per layer, (parameter, its optimizer group, its place in the optimizer's order)
        # in the order of op.backward's gradients. The update runs in the optimizer's order, as
        # step() does (a global clipping norm sums in that order).
        self.count = sum(len(p) for p in params)
        # Layers before the first one with weights need no backward (nothing below wants a gradient).
        self.backward_from = backward_from
        self.calls = [(layer.direct_call, index > backward_from) for index, layer in enumerate(layers)]
        # Backward, last layer first: (layer index, its (parameter, group, place, position of the
        # parameter's gradient in op.backward's result)).
        self.backward_order = [
            (index, tuple((p, group, place, i) for i, (p, group, place) in enumerate(params[index], 1)))
            for index in range(len(layers) - 1, backward_from - 1, -1)]
        self.seeds: dict = {}   # dtype -> the 0-d one Tensor.backward seeds a loss with (never written)

    @classmethod
    def plan(cls, model, regularizers) -> DirectStep | None:
        """The direct step for ``model`` as compiled now, or None when fit must run the graph
        step: a model that is not a built Sequential on a host backend; a layer or loss
        without a direct form, or a subclass that overrides ``call``; penalties (graph ops on
        the weights); an optimizer that overrides ``step`` or ``zero_grad``, or whose
        parameters are not exactly the model's; a weight shared between layers or frozen."""
        chain = model._direct_chain()
        if chain is None or not model.built or not model._backend.host_memory:
            return None
        if regularizers or not _mirrors_call(model.loss):
            return None
        optimizer = model.optimizer
        if not isinstance(optimizer, Optimizer) or type(optimizer).step is not Optimizer.step \
                or type(optimizer).zero_grad is not Optimizer.zero_grad:
            return None
        model_params = {id(p) for p in model.parameters()}
        group_of = {id(p): group for group in optimizer.param_groups for p in group["params"]}
        if {id(p) for p in optimizer.parameters()} != model_params:
            return None   # step() would also zero and skip weights of other models
        order = {id(p): i for i, p in enumerate(optimizer.parameters())}
        layers, params, seen, backward_from = [], [], set(), None
        for index, layer in enumerate(chain):
            weights = _direct_params(layer)
            if weights is None:
                return None
            for p in weights:
                if id(p) in seen or id(p) not in group_of or not p.requires_grad:
                    return None
                seen.add(id(p))
            if weights and backward_from is None:
                backward_from = index
            layers.append(layer)
            params.append(tuple((p, group_of[id(p)], order[id(p)]) for p in weights))
        if backward_from is None or seen != model_params:
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
