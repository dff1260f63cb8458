/**
 * Correctly rounded fused multiply-add on doubles, `round(a·b + c)` with one rounding, computed exactly with BigInt
 * (JavaScript has no `Math.fma`). Slow (BigInt); used only where bit-exact reproduction of a BLAS kernel matters.
 *
 * @packageDocumentation
 */

const view = new DataView(new ArrayBuffer(8));

/** `x = mantissa · 2^exponent` exactly (finite x). */
function dyadic(x: number): { mantissa: bigint; exponent: number } {
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const sign = hi >>> 31 ? -1n : 1n;
  const biased = (hi >>> 20) & 0x7ff;
  const fraction = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  if (biased === 0) return { mantissa: sign * fraction, exponent: -1074 }; // zero / subnormal
  return { mantissa: sign * ((1n << 52n) | fraction), exponent: biased - 1075 };
}

/**
 * `round(a·b + c)`, rounded once to nearest (ties to even), for finite normal-range inputs and results.
 *
 * @example
 * ```ts
 * import { fmaExact } from '@consistent-avatar/tsd';
 * console.log(fmaExact(0.1, 10, -1)); // 5.551115123125783e-17  (the product's rounding error, not 0)
 * ```
 */
export function fmaExact(a: number, b: number, c: number): number {
  const x = dyadic(a);
  const y = dyadic(b);
  const z = dyadic(c);
  const productMantissa = x.mantissa * y.mantissa;
  const productExponent = x.exponent + y.exponent;
  const exponent = Math.min(productExponent, z.exponent);
  // Exact sum on the common exponent.
  const sum = (productMantissa << BigInt(productExponent - exponent)) + (z.mantissa << BigInt(z.exponent - exponent));
  // Number(BigInt) rounds to nearest, ties to even; scaling by powers of two is then exact (normal range).
  let result = Number(sum);
  let e = exponent;
  while (e < -1000) {
    result *= 2 ** -1000;
    e += 1000;
  }
  return result * 2 ** e;
}
