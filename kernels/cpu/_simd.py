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
* ``vload_first(a, i, count)``: a[i : i + count] in the first count lanes, zeros in the
  rest, one masked load (``llvm.masked.load``): nothing past the run is read, so it
  needs no slack;
* ``vstore(a, i, v)``: a[i : i + lanes] = v;
* ``vstore_first(a, i, v, count)``: a[i : i + count] = v[:count] for count <= lanes, one
  masked store (``llvm.masked.store``): nothing past the run is read or written, so a
  row's tail goes straight from registers to an array without a scratch copy;
* ``vfill(a, s)``: every lane s, in a's dtype;
* ``vmuladd(acc, x, y)``: acc + x * y, y a vector or a scalar (then broadcast), through
  ``llvm.fmuladd`` (one fused multiply-add where the machine has one);
* ``vadd(u, v)``: u + v, lane by lane;
* ``vrelu_grad(y, g)``: g * (1 where y > 0, else 0), lane by lane (ReLU's gradient from
  its output, with the scalar form's NaN and infinity behaviour);
* ``vrelu(v)``: 0 where a lane is <= 0, the lane otherwise (NaN passes through, as in the
  scalar ReLU of activations.py);
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


def _first_lanes(context, builder, count, limit, limit_type):
    """The <count x i1> mask of the lanes below ``limit``."""
    index_type = ir.IntType(32)
    numbers = ir.Constant(ir.VectorType(index_type, count), list(range(count)))
    limit = builder.trunc(context.cast(builder, limit, limit_type, types.intp), index_type)
    return builder.icmp_signed("<", numbers, _broadcast(builder, numbers.type, limit))


def _mangle(vector_type):
    """The type suffix of an overloaded LLVM memory intrinsic for this vector type."""
    element = "f32" if isinstance(vector_type.element, ir.FloatType) else "f64"
    return f"v{vector_type.count}{element}.p0v{vector_type.count}{element}"


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
    def vload_first(typingctx, array, index, count):
        vector = Vector(array.dtype, nbytes)

        def codegen(context, builder, sig, args):
            llvm_type = context.get_value_type(vector)
            pointer = builder.bitcast(_element_pointer(context, builder, sig.args[0], args[0], args[1]),
                                      llvm_type.as_pointer())
            mask = _first_lanes(context, builder, llvm_type.count, args[2], sig.args[2])
            fnty = ir.FunctionType(llvm_type, [pointer.type, ir.IntType(32), mask.type, llvm_type])
            load = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.load.{_mangle(llvm_type)}")
            align = ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8)
            return builder.call(load, [pointer, align, mask, ir.Constant(llvm_type, None)])
        return vector(array, index, count), codegen

    @intrinsic
    def vstore_first(typingctx, array, index, value, count):
        def codegen(context, builder, sig, args):
            llvm_type = context.get_value_type(sig.args[2])
            pointer = builder.bitcast(_element_pointer(context, builder, sig.args[0], args[0], args[1]),
                                      llvm_type.as_pointer())
            mask = _first_lanes(context, builder, llvm_type.count, args[3], sig.args[3])
            fnty = ir.FunctionType(ir.VoidType(), [llvm_type, pointer.type, ir.IntType(32), mask.type])
            store = cgutils.get_or_insert_function(builder.module, fnty, f"llvm.masked.store.{_mangle(llvm_type)}")
            align = ir.Constant(ir.IntType(32), array.dtype.bitwidth // 8)
            builder.call(store, [args[2], pointer, align, mask])
            return context.get_dummy_value()
        return types.void(array, index, value, count), codegen

    @intrinsic
    def vadd(typingctx, u, v):
        def codegen(context, builder, sig, args):
            return builder.fadd(args[0], args[1])
        return u(u, v), codegen

    @intrinsic
    def vrelu_grad(typingctx, y, g):
        def codegen(context, builder, sig, args):
            llvm_type = context.get_value_type(sig.args[0])
            zero, one = ir.Constant(llvm_type, None), ir.Constant(llvm_type, [1.0] * llvm_type.count)
            return builder.fmul(args[1], builder.select(builder.fcmp_ordered(">", args[0], zero), one, zero))
        return g(y, g), codegen

    @intrinsic
    def vrelu(typingctx, vector):
        def codegen(context, builder, sig, args):
            zero = ir.Constant(context.get_value_type(sig.args[0]), None)
            return builder.select(builder.fcmp_ordered("<=", args[0], zero), zero, args[0])
        return vector(vector), codegen

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

    return vload, vload_first, vstore, vstore_first, vfill, vadd, vmuladd, vrelu, vrelu_grad, vsum, lanes


(vload64, vload_first64, vstore64, vstore_first64, vfill64, vadd64, vmuladd64, vrelu64, vrelu_grad64, vsum64,
 lanes64) = _operations(64)
(vload128, vload_first128, vstore128, vstore_first128, vfill128, vadd128, vmuladd128, vrelu128, vrelu_grad128,
 vsum128, lanes128) = _operations(128)
