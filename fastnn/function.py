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

from . import backend as backends
from .grad_mode import is_grad_enabled

#: The Tensor class, registered by tensor.py when it is defined (register_tensor_class):
#: this module may not import tensor.py, which imports the ops built on Function, and an
#: import inside ``apply`` would run on every op.
_Tensor = None


def register_tensor_class(cls) -> None:
    global _Tensor
    _Tensor = cls


class Function:
    differentiable = True
    #: True when ``backward`` returns newly allocated gradient arrays that alias nothing
    #: (not the incoming gradient, not each other): a leaf may then keep the array as its
    #: ``.grad`` without the defensive copy. Set by ops whose kernels allocate their outputs.
    grads_are_fresh = False
    # Defaults an instance overrides when it records a node (class attributes: setting them
    # on every op that records nothing cost time for nothing).
    needs_input_grad: tuple = ()
    parents: tuple = ()
    output_refs: tuple = ()
    released = False

    def __init__(self, backend):
        self.backend = backend
        self.k = backend.k
        self.xp = backend.xp

    @classmethod
    def apply(cls, *args, **kwargs):
        # One pass over the arguments (this runs for every op: each lookup here shows in
        # the time of small models): the shared backend, the arrays, who needs a gradient.
        Tensor = _Tensor
        backend = None
        arrays, needs = [], []
        for a in args:
            if isinstance(a, Tensor):
                if backend is None:
                    backend = a._backend
                elif a._backend is not backend:
                    common_backend([t for t in args if isinstance(t, Tensor)], cls.__name__)   # raises
                data = a.data
                arrays.append(data if data.flags.c_contiguous else backend.contiguous(data))
                needs.append(a._requires_grad)
            else:
                arrays.append(a)
                needs.append(False)
        if backend is None:
            backend = backends.current()
        fn = cls(backend)
        fn.needs_input_grad = needs = tuple(needs)
        out = fn.forward(*arrays, **kwargs)
        track = cls.differentiable and True in needs and is_grad_enabled()
        # Outputs hold their node and the node holds its outputs only by weak references,
        # so a dropped output is freed at once instead of waiting for the cycle collector.
        if not isinstance(out, tuple):
            result = Tensor._make(out, backend, requires_grad=track)
            if track:
                fn.parents = tuple(a if isinstance(a, Tensor) else None for a in args)
                fn.output_refs = (weakref.ref(result),)
                result._node = fn
            return result
        results = tuple(Tensor._make(o, backend, requires_grad=track) for o in out)
        if track:
            fn.parents = tuple(a if isinstance(a, Tensor) else None for a in args)
            fn.output_refs = tuple(weakref.ref(r) for r in results)
            for r in results:
                r._node = fn
        return results

    def forward(self, *args, **kwargs):
        raise NotImplementedError

    def backward(self, *grads):
        raise NotImplementedError

    def release(self):
        """Drop what forward saved once backward has used it (retain_graph=False)."""
        self.__dict__ = {"released": True, "parents": (), "output_refs": (), "backend": self.backend}


def common_backend(tensors, op_name):
    """The backend shared by all tensor inputs; an error naming both when they differ."""
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
