"""Function: one differentiable op, written once against kernel names.

A subclass defines ``forward(self, *args, **kwargs)`` on raw arrays (tensor
arguments arrive as C-contiguous arrays of their backend, other arguments as
given) and ``backward(self, grad)`` returning one gradient array (or None) per
positional argument. A forward that returns a tuple of arrays makes a
multi-output op: ``apply`` returns a tuple of tensors and ``backward`` receives
one gradient per output (None for an output that received none). ``self.k`` resolves kernels through the backend of the
inputs and ``self.xp`` is that backend's array module, so an op never branches
on the backend. ``apply`` checks that all tensor inputs share one backend,
runs forward, and records the node when a gradient will be needed.
"""

from __future__ import annotations

import weakref

from .grad_mode import is_grad_enabled


class Function:
    differentiable = True
    #: True when ``backward`` returns newly allocated gradient arrays that alias nothing
    #: (not the incoming gradient, not each other): a leaf may then keep the array as its
    #: ``.grad`` without the defensive copy. Set by ops whose kernels allocate their outputs.
    grads_are_fresh = False

    def __init__(self, backend):
        self.backend = backend
        self.k = backend.k
        self.xp = backend.xp
        self.needs_input_grad: tuple = ()
        self.parents: tuple = ()
        self.output_refs: tuple = ()
        self.released = False

    @classmethod
    def apply(cls, *args, **kwargs):
        from .tensor import Tensor

        tensors = [a for a in args if isinstance(a, Tensor)]
        backend = common_backend(tensors, cls.__name__)
        fn = cls(backend)
        fn.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        arrays = [backend.contiguous(a.data) if isinstance(a, Tensor) else a for a in args]
        out = fn.forward(*arrays, **kwargs)
        track = cls.differentiable and is_grad_enabled() and any(fn.needs_input_grad)
        outputs = out if isinstance(out, tuple) else (out,)
        results = tuple(Tensor._make(o, backend, requires_grad=track) for o in outputs)
        if track:
            fn.parents = tuple(a if isinstance(a, Tensor) else None for a in args)
            # Weak references: outputs point at their node, not the other way round, so a
            # dropped output is freed at once instead of waiting for the cycle collector.
            fn.output_refs = tuple(weakref.ref(r) for r in results)
            for r in results:
                r._node = fn
        return results if isinstance(out, tuple) else results[0]

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    def release(self):
        """Drop what forward saved once backward has used it (retain_graph=False)."""
        self.__dict__ = {"released": True, "parents": (), "output_refs": (), "backend": self.backend}


def common_backend(tensors, op_name):
    """The backend shared by all tensor inputs; an error naming both when they differ."""
    from . import backend as backends

    if not tensors:
        return backends.current()
    first = tensors[0]._backend
    for t in tensors[1:]:
        if t._backend is not first:
            raise ValueError(
                f"{op_name}: inputs live on different backends, {first.name!r} and {t._backend.name!r}; "
                f"move one with .to({first.name!r})"
            )
    return first
