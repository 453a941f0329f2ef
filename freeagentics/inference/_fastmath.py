"""Elementwise maths for the numba kernels that the compiler can vectorise.

A call to the C library's ``logf`` per element keeps a loop scalar; these are written
out in arithmetic so a loop over them becomes SIMD code. float64 keeps the library
functions (float64 is the precision asked for when comparing with other software).
The float32 polynomials are compiled with fused multiply-adds ("contract"), whatever
the calling kernel's flags: the vectorised body and the scalar remainder of a loop
then round alike, so an element's value does not depend on its position (a test holds
it), and a fused multiply-add halves the polynomial's instructions.
"""

from __future__ import annotations

import numpy as np
from numba.core import types
from numba.extending import intrinsic, overload, register_jitable

__all__ = ["EPS", "exp_shifted_into", "plogp_into"]

#: the guard inside logarithms, as in :mod:`freeagentics.inference._maths`
EPS = 1e-16
_SQRT_HALF = float(np.sqrt(0.5))


@intrinsic
def _float32_bits(typingctx, x):  # pragma: no cover - compiled
    """The bits of a float32 as an int32 (a reinterpretation, no conversion)."""
    if x != types.float32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.int32))

    return types.int32(types.float32), codegen


@register_jitable(inline="always", fastmath={"contract"})
def _ln_float32(x):  # pragma: no cover - compiled
    """``ln x`` for a normal positive float32, in arithmetic the compiler vectorises:
    ``x = (1 + t) · 2^e`` with ``1 + t`` in [√½, √2), and
    ``ln(1 + t) = t - t²/2 + t³ P(t)`` with the degree-8 polynomial ``P`` of Cephes'
    ``logf`` (error within 2 units in the last place; a test holds it)."""
    b = _float32_bits(x)
    # int32 throughout (numba widens int32 arithmetic to int64, which halves the lanes)
    exponent = np.float32(np.int32(np.int32(b >> np.int32(23)) - np.int32(126)))
    half = np.float32(0.5) + np.float32(np.int32(b & np.int32(0x7FFFFF))) * np.float32(
        0.5 / 8388608.0
    )  # in [0.5, 1)
    small = np.float32(half < np.float32(_SQRT_HALF))
    exponent = exponent - small
    t = half + half * small - np.float32(1.0)
    z = t * t
    y = np.float32(7.0376836292e-2) * t - np.float32(1.1514610310e-1)
    y = y * t + np.float32(1.1676998740e-1)
    y = y * t - np.float32(1.2420140846e-1)
    y = y * t + np.float32(1.4249322787e-1)
    y = y * t - np.float32(1.6668057665e-1)
    y = y * t + np.float32(2.0000714765e-1)
    y = y * t - np.float32(2.4999993993e-1)
    y = y * t + np.float32(3.3333331174e-1)
    y = y * t * z + np.float32(-2.12194440e-4) * exponent - np.float32(0.5) * z
    return t + y + np.float32(0.693359375) * exponent


def plogp_into(p, out):  # pragma: no cover - replaced by the overload in compiled code
    """``out[i] = p[i] · ln(p[i] + ε)`` for probabilities ``p`` (1-D, contiguous)."""
    out[:] = p * np.log(p + EPS)


@overload(plogp_into, jit_options={"fastmath": {"contract"}})
def _plogp_into_overload(p, out):  # pragma: no cover - compiled
    """float32: :func:`_ln_float32` (a call to ``logf`` per element cannot be
    vectorised); float64: the library logarithm. ``p + ε`` is at least ε, a normal
    float32, so the exponent field is the exponent."""
    if p.dtype == types.float32:

        def plogp_float32(p, out):
            eps = np.float32(EPS)
            for i in range(p.size):
                out[i] = p[i] * _ln_float32(p[i] + eps)

        return plogp_float32

    def plogp_library(p, out):
        eps = p.dtype.type(EPS)
        for i in range(p.size):
            out[i] = p[i] * np.log(p[i] + eps)

    return plogp_library


@intrinsic
def _float32_from_bits(typingctx, bits):  # pragma: no cover - compiled
    """The float32 whose bits are the int32 ``bits`` (a reinterpretation)."""
    if bits != types.int32:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], context.get_value_type(types.float32))

    return types.float32(types.int32), codegen


def exp_shifted_into(x, shift):  # pragma: no cover - replaced by the overload
    """``x[i] = exp(x[i] - shift)`` in place, for ``x[i] <= shift`` (softmax numerators)."""
    x[:] = np.exp(x - shift)


@overload(exp_shifted_into, jit_options={"fastmath": {"contract"}})
def _exp_shifted_into_overload(x, shift):  # pragma: no cover - compiled
    """float32: ``e^y = 2^k · e^r`` with ``k = round(y / ln 2)``, ``|r| <= ln 2 / 2``,
    and ``e^r`` by the degree-7 polynomial of Cephes' ``expf`` (error within 2 units
    in the last place; a test holds it). Arguments below -87 give ``e^-87`` ≈ 1.6e-38
    in place of a smaller number or zero. float64: the library exponential.
    """
    if x.dtype == types.float32:

        def exp_float32(x, shift):
            offset = np.float32(shift)
            for i in range(x.size):
                y = max(x[i] - offset, np.float32(-87.0))
                k = np.floor(y * np.float32(1.44269504088896341) + np.float32(0.5))
                r = y - k * np.float32(0.693359375) - k * np.float32(-2.12194440e-4)
                z = r * r
                p = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
                p = p * r + np.float32(8.3334519073e-3)
                p = p * r + np.float32(4.1665795894e-2)
                p = p * r + np.float32(1.6666665459e-1)
                p = p * r + np.float32(5.0000001201e-1)
                p = p * z + r + np.float32(1.0)
                scale = _float32_from_bits(np.int32((np.int32(k) + np.int32(127)) << np.int32(23)))
                x[i] = p * scale

        return exp_float32

    def exp_library(x, shift):
        for i in range(x.size):
            x[i] = np.exp(x[i] - shift)

    return exp_library
