"""Vector values for Numba kernels: a run of contiguous array elements held in registers.

Numba has scalars and arrays but no vector type, so a kernel that keeps many running
sums (a block of output rows, a block of filter-gradient taps) keeps them in memory:
LLVM cannot prove that a scratch array does not alias the arrays the loop reads, and
stores every sum back on every iteration. A value of the types here is an LLVM vector
(``<16 x float>`` for 64 bytes of float32), an SSA value that LLVM keeps in registers
(one AVX-512 register per 64 bytes; two AVX2 registers where that is what the machine
has), so a loop of them runs with only the loads it really needs.

Two widths, named by their bytes: ``*64`` (16 float32 or 8 float64 lanes) and ``*128``
(32 float32 or 16 float64). The lane count follows the array's dtype, so one kernel
serves both precisions. The operations are Numba intrinsics (llvmlite IR):

* ``vload(a, i)``: the vector a[i : i + lanes] (a 1-D contiguous array; no bounds check,
  the caller's buffers carry the slack a vector may read past their last row);
* ``vstore(a, i, v)``: a[i : i + lanes] = v;
* ``vfill(a, s)``: every lane s, in a's dtype;
* ``vmuladd(acc, x, y)``: acc + x * y, y a vector or a scalar (then broadcast), through
  ``llvm.fmuladd`` (one fused multiply-add where the machine has one);
* ``vsum(v)``: the sum of the lanes (a pairwise tree);
* ``lanes(a)``: the lane count for a's dtype, a compile-time constant.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model


class Vector(types.Type):
    """``nbytes`` bytes of ``dtype`` values as one LLVM vector."""

    def __init__(self, dtype, nbytes):
        self.dtype = dtype
        self.nbytes = nbytes
        self.lanes = nbytes // (dtype.bitwidth // 8)
        super().__init__(name=f"Vector({dtype} x {self.lanes})")


@register_model(Vector)
class _VectorModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        element = dmm.lookup(fe_type.dtype).get_value_type()
        super().__init__(dmm, fe_type, ir.VectorType(element, fe_type.lanes))


def _element_pointer(context, builder, array_type, array, index):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.gep(data, [index])


def _broadcast(builder, vector_type, scalar):
    undef = ir.Constant(vector_type, ir.Undefined)
    one = builder.insert_element(undef, scalar, ir.Constant(ir.IntType(32), 0))
    zeros = ir.Constant(ir.VectorType(ir.IntType(32), vector_type.count), None)
    return builder.shuffle_vector(one, undef, zeros)


def _fmuladd(builder, vector_type):
    element = "f32" if isinstance(vector_type.element, ir.FloatType) else "f64"
    fnty = ir.FunctionType(vector_type, [vector_type] * 3)
    return cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fmuladd.v{vector_type.count}{element}")


def _operations(nbytes):
    """The intrinsics for vectors of ``nbytes`` bytes."""

    @intrinsic
    def vload(typingctx, array, index):
        vector = Vector(array.dtype, nbytes)

        def codegen(context, builder, sig, args):
            pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
            llvm_type = context.get_value_type(vector)
            return builder.load(builder.bitcast(pointer, llvm_type.as_pointer()), align=array.dtype.bitwidth // 8)
        return vector(array, index), codegen

    @intrinsic
    def vstore(typingctx, array, index, value):
        def codegen(context, builder, sig, args):
            pointer = _element_pointer(context, builder, sig.args[0], args[0], args[1])
            llvm_type = context.get_value_type(sig.args[2])
            builder.store(args[2], builder.bitcast(pointer, llvm_type.as_pointer()), align=array.dtype.bitwidth // 8)
            return context.get_dummy_value()
        return types.void(array, index, value), codegen

    @intrinsic
    def vfill(typingctx, array, scalar):
        vector = Vector(array.dtype, nbytes)

        def codegen(context, builder, sig, args):
            value = context.cast(builder, args[1], sig.args[1], vector.dtype)
            return _broadcast(builder, context.get_value_type(vector), value)
        return vector(array, scalar), codegen

    @intrinsic
    def vmuladd(typingctx, acc, x, y):
        def codegen(context, builder, sig, args):
            llvm_type = context.get_value_type(sig.args[0])
            other = args[2]
            if not isinstance(sig.args[2], Vector):
                other = _broadcast(builder, llvm_type, context.cast(builder, other, sig.args[2], acc.dtype))
            return builder.call(_fmuladd(builder, llvm_type), [args[1], other, args[0]])
        return acc(acc, x, y), codegen

    @intrinsic
    def vsum(typingctx, vector):
        def codegen(context, builder, sig, args):
            value, count = args[0], vector.lanes
            while count > 1:
                half = count // 2
                low = ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half)))
                high = ir.Constant(ir.VectorType(ir.IntType(32), half), list(range(half, count)))
                value = builder.fadd(builder.shuffle_vector(value, value, low),
                                     builder.shuffle_vector(value, value, high))
                count = half
            return builder.extract_element(value, ir.Constant(ir.IntType(32), 0))
        return vector.dtype(vector), codegen

    @intrinsic
    def lanes(typingctx, array):
        count = nbytes // (array.dtype.bitwidth // 8)

        def codegen(context, builder, sig, args):
            return context.get_constant(types.intp, count)
        return types.intp(array), codegen

    return vload, vstore, vfill, vmuladd, vsum, lanes


vload64, vstore64, vfill64, vmuladd64, vsum64, lanes64 = _operations(64)
vload128, vstore128, vfill128, vmuladd128, vsum128, lanes128 = _operations(128)
