"""The compiled form of :func:`nesy.tensor.scalar.int_as_float`: one int32 -> float32 bitcast.

It builds powers of two (``(n + 127) << 23``) for the float32 exp in
:func:`nesy.tensor.scalar.sigmoid_f32` without a libm call, so the loop around it vectorizes.
Importing this module imports Numba; :mod:`nesy.tensor.kernels` does so before compiling, and
``scalar`` itself stays free of Numba (``import nesy`` and small-array ops never load it).
"""

from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload

from .scalar import int_as_float


@intrinsic
def _bitcast_i32_f32(typingctx, i):
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.FloatType())

    return types.float32(types.int32), codegen


@overload(int_as_float, inline="always")
def _int_as_float_overload(i):
    if isinstance(i, types.Integer):
        return lambda i: _bitcast_i32_f32(i)
    return None
