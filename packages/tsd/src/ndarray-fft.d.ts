// Type declarations for `ndarray-fft` 1.0.3 (the package ships none).
declare module 'ndarray-fft' {
  import type { NdArray } from 'ndarray';
  /**
   * In-place n-dimensional FFT of the complex array `re + i·im`. `direction` 1 is the forward transform
   * (e^{-2πi kn/N}), -1 the inverse, scaled by 1/N per axis (so forward then inverse is the identity).
   * Power-of-two axes use radix 2, other lengths Bluestein's algorithm.
   */
  export default function fft(direction: 1 | -1, re: NdArray, im: NdArray): void;
}
