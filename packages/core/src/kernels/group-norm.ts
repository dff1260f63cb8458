/**
 * Group normalisation as two fused kernels — `CaGroupNorm` (forward) and `CaGroupNormGrad` (its gradient) — that
 * read and write the backend's own buffers in place (the wasm heap, the cpu backend's arrays): one pass for the
 * statistics and one for the output forward, two passes backward, with float64 accumulators. The composition from
 * tf ops it replaces (`tf.moments`, subtract, rsqrt, multiply, add, and autodiff through each) makes ~10 passes
 * forward and ~25 backward over the activation, and tfjs-wasm reduces over non-trailing axes by transposing first;
 * in the TinyUNet training step group norm was the largest share of the wasm time after the convolutions
 * (packages/core/bench/results/native-train-step-run3.json, `profile`: Multiply, Sum, Sub, Mean).
 *
 * Forward, per batch item b and group g of C/G channels over all P positions (N = P·C/G values):
 *   1. μ = Σx / N,  σ² = Σx² / N − μ² (float64 sums: the same biased variance `tf.moments` computes)
 *   2. r = 1 / √(σ² + eps),  y = (x − μ)·r·γ[c] + β[c]
 * Backward with x̂ = (x − μ)·r, from per-channel sums A[c] = Σ_p dy and D[c] = Σ_p dy·x of item b:
 *   3. dβ[c] += A[c],  dγ[c] += r·(D[c] − μ·A[c])
 *   4. m₁ = Σ_{c∈g} γ[c]·A[c] / N,  m₂ = Σ_{c∈g} γ[c]·r·(D[c] − μ·A[c]) / N   (means of dx̂ and dx̂·x̂)
 *   5. dx = r·(γ[c]·dy − m₁ − x̂·m₂)
 *
 * NaN / ±Infinity carry within their (b, g) like the composition's (the layers never check; see `nn/layers.ts`).
 * {@link groupNorm} uses the kernels where they are registered for the active backend (`wasm`, `cpu`: by
 * `initBackend` through `registerWasmTrainingKernels`) and the composition elsewhere (webgl, tfjs-node).
 *
 * @example
 * ```ts
 * import { tf, groupNorm } from '@consistent-avatar/core';
 * const y = groupNorm(tf.randomNormal([2, 8, 8, 64], 0, 1, 'float32', 1), 32); // [2, 8, 8, 64], no affine
 * ```
 *
 * @packageDocumentation
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';
import { wasmHeapView, type WasmBackendInternals } from './wasm-internals.js';

/** Kernel names (registered for the `wasm` and `cpu` backends). */
export const GROUP_NORM_KERNEL = 'CaGroupNorm';
/** @see GROUP_NORM_KERNEL */
export const GROUP_NORM_GRAD_KERNEL = 'CaGroupNormGrad';

/** Sizes of one call: B items, P positions, C channels in G groups. */
interface Dims {
  B: number;
  P: number;
  C: number;
  G: number;
}

/**
 * Forward on flat NHWC-ordered arrays (`x[(b·P + p)·C + c]`): writes `y` `[B·P·C]`, `mean` and `rstd` `[B·G]`.
 * Pure; exported for the kernels' tests.
 * @example
 * ```ts
 * const y = new Float32Array(8), mean = new Float32Array(2), rstd = new Float32Array(2);
 * groupNormForwardValues(x, new Float32Array(4).fill(1), new Float32Array(4), { B: 1, P: 2, C: 4, G: 2 }, 1e-5, y, mean, rstd);
 * ```
 */
export function groupNormForwardValues(x: Float32Array, gamma: Float32Array, beta: Float32Array, d: Dims, eps: number, y: Float32Array, mean: Float32Array, rstd: Float32Array): void {
  const { B, P, C, G } = d;
  const Cg = C / G;
  const N = P * Cg;
  const s1 = new Float64Array(C), s2 = new Float64Array(C), scale = new Float64Array(C), shift = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    const base = b * P * C;
    s1.fill(0);
    s2.fill(0);
    // 1. per-channel Σx and Σx² over the positions (channels innermost: contiguous reads; four positions per
    //    accumulator update)
    let p = 0;
    for (let o = base; p + 4 <= P; p += 4, o += 4 * C) {
      for (let c = 0; c < C; c++) {
        const v0 = x[o + c]!, v1 = x[o + C + c]!, v2 = x[o + 2 * C + c]!, v3 = x[o + 3 * C + c]!;
        s1[c] += v0 + v1 + (v2 + v3);
        s2[c] += v0 * v0 + v1 * v1 + (v2 * v2 + v3 * v3);
      }
    }
    for (let o = base + p * C; p < P; p++, o += C) {
      for (let c = 0; c < C; c++) {
        const v = x[o + c]!;
        s1[c] += v;
        s2[c] += v * v;
      }
    }
    for (let g = 0; g < G; g++) {
      let a = 0, q = 0;
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        a += s1[c]!;
        q += s2[c]!;
      }
      const mu = a / N;
      const variance = Math.max(q / N - mu * mu, 0); // rounding can take Σx²/N − μ² just below 0 for constant groups
      const r = 1 / Math.sqrt(variance + eps); // 2.
      mean[b * G + g] = mu;
      rstd[b * G + g] = r;
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        scale[c] = r * gamma[c]!;
        shift[c] = beta[c]! - mu * r * gamma[c]!;
      }
    }
    applyAffine(x, y, base, P, C, scale, shift);
  }
}

/** y = x·scale[c] + shift[c] over positions [0, P) of one item (four positions per load of scale and shift). */
function applyAffine(x: Float32Array, y: Float32Array, base: number, P: number, C: number, scale: Float64Array, shift: Float64Array): void {
  let p = 0;
  for (let o = base; p + 4 <= P; p += 4, o += 4 * C) {
    for (let c = 0; c < C; c++) {
      const a = scale[c]!, b = shift[c]!;
      y[o + c] = x[o + c]! * a + b;
      y[o + C + c] = x[o + C + c]! * a + b;
      y[o + 2 * C + c] = x[o + 2 * C + c]! * a + b;
      y[o + 3 * C + c] = x[o + 3 * C + c]! * a + b;
    }
  }
  for (let o = base + p * C; p < P; p++, o += C) {
    for (let c = 0; c < C; c++) y[o + c] = x[o + c]! * scale[c]! + shift[c]!;
  }
}

/**
 * Gradient on flat arrays: writes `dx` `[B·P·C]`, `dgamma` and `dbeta` `[C]` from `dy`, `x`, `gamma` and the
 * forward's `mean` / `rstd`. Pure; exported for the kernels' tests.
 * @example
 * ```ts
 * groupNormBackwardValues(dy, x, gamma, mean, rstd, { B: 1, P: 2, C: 4, G: 2 }, dx, dgamma, dbeta);
 * ```
 */
export function groupNormBackwardValues(
  dy: Float32Array,
  x: Float32Array,
  gamma: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  d: Dims,
  dx: Float32Array,
  dgamma: Float32Array,
  dbeta: Float32Array,
): void {
  const { B, P, C, G } = d;
  const Cg = C / G;
  const N = P * Cg;
  const A = new Float64Array(C), D = new Float64Array(C), k1 = new Float64Array(C), k2 = new Float64Array(C), k3 = new Float64Array(C);
  const dg = new Float64Array(C), db = new Float64Array(C);
  for (let b = 0; b < B; b++) {
    const base = b * P * C;
    A.fill(0);
    D.fill(0);
    let p = 0;
    for (let o = base; p + 4 <= P; p += 4, o += 4 * C) {
      for (let c = 0; c < C; c++) {
        const g0 = dy[o + c]!, g1 = dy[o + C + c]!, g2 = dy[o + 2 * C + c]!, g3 = dy[o + 3 * C + c]!;
        A[c] += g0 + g1 + (g2 + g3);
        D[c] += g0 * x[o + c]! + g1 * x[o + C + c]! + (g2 * x[o + 2 * C + c]! + g3 * x[o + 3 * C + c]!);
      }
    }
    for (let o = base + p * C; p < P; p++, o += C) {
      for (let c = 0; c < C; c++) {
        const g = dy[o + c]!;
        A[c] += g;
        D[c] += g * x[o + c]!;
      }
    }
    for (let g = 0; g < G; g++) {
      const mu = mean[b * G + g]!, r = rstd[b * G + g]!;
      let m1 = 0, m2 = 0;
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        const dxhatXhat = r * (D[c]! - mu * A[c]!); // Σ_p dy·x̂ for channel c
        db[c] += A[c]!; // 3.
        dg[c] += dxhatXhat;
        m1 += gamma[c]! * A[c]!; // 4.
        m2 += gamma[c]! * dxhatXhat;
      }
      m1 /= N;
      m2 /= N;
      // 5. dx = r·γ·dy − r·m₁ − r²·m₂·(x − μ) = k1[c]·dy + k2·x + k3
      for (let c = g * Cg; c < (g + 1) * Cg; c++) {
        k1[c] = r * gamma[c]!;
        k2[c] = -r * r * m2;
        k3[c] = -r * m1 + r * r * m2 * mu;
      }
    }
    p = 0;
    for (let o = base; p + 4 <= P; p += 4, o += 4 * C) {
      for (let c = 0; c < C; c++) {
        const a = k1[c]!, b = k2[c]!, e = k3[c]!;
        dx[o + c] = a * dy[o + c]! + b * x[o + c]! + e;
        dx[o + C + c] = a * dy[o + C + c]! + b * x[o + C + c]! + e;
        dx[o + 2 * C + c] = a * dy[o + 2 * C + c]! + b * x[o + 2 * C + c]! + e;
        dx[o + 3 * C + c] = a * dy[o + 3 * C + c]! + b * x[o + 3 * C + c]! + e;
      }
    }
    for (let o = base + p * C; p < P; p++, o += C) {
      for (let c = 0; c < C; c++) dx[o + c] = k1[c]! * dy[o + c]! + k2[c]! * x[o + c]! + k3[c]!;
    }
  }
  for (let c = 0; c < C; c++) {
    dgamma[c] = dg[c]!;
    dbeta[c] = db[c]!;
  }
}

/** The two backends' buffer access: read a tensor's values in place, allocate an output and view it. */
interface BufferAccess {
  read(t: tf.TensorInfo): Float32Array;
  /** Allocate every output first (wasm: an allocation can move the heap), then view them all. */
  alloc(shapes: number[][]): { infos: tf.TensorInfo[]; views: () => Float32Array[] };
}

interface CpuInternals {
  data: { get(id: object): { values?: unknown } | undefined };
  makeTensorInfo(shape: number[], dtype: 'float32', values: Float32Array): tf.TensorInfo;
}

const count = (shape: readonly number[]) => shape.reduce((p, q) => p * q, 1);

function access(backendName: 'wasm' | 'cpu', backend: unknown): BufferAccess {
  if (backendName === 'wasm') {
    const be = backend as WasmBackendInternals;
    const view = (t: tf.TensorInfo) => wasmHeapView(be, be.wasm.asm!.memory!.buffer, t);
    return {
      read: view,
      alloc: (shapes) => {
        const infos = shapes.map((s) => be.makeOutput(s, 'float32'));
        return { infos, views: () => infos.map(view) };
      },
    };
  }
  const be = backend as CpuInternals;
  return {
    read: (t) => be.data.get(t.dataId)!.values as Float32Array,
    alloc: (shapes) => {
      const arrays = shapes.map((s) => new Float32Array(count(s)));
      const infos = shapes.map((s, i) => be.makeTensorInfo(s, 'float32', arrays[i]!));
      return { infos, views: () => arrays };
    },
  };
}

function dimsOf(x: tf.TensorInfo, numGroups: number): Dims {
  const B = x.shape[0]!, C = x.shape[x.shape.length - 1]!;
  return { B, P: count(x.shape) / Math.max(B * C, 1), C, G: numGroups };
}

function forwardKernel(backendName: 'wasm' | 'cpu'): tf.KernelConfig {
  return {
    kernelName: GROUP_NORM_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x, gamma, beta } = inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
      const { numGroups, eps } = attrs as unknown as { numGroups: number; eps: number };
      const io = access(backendName, backend);
      const d = dimsOf(x, numGroups);
      const { infos, views } = io.alloc([[...x.shape], [d.B, numGroups], [d.B, numGroups]]);
      const [y, mean, rstd] = views() as [Float32Array, Float32Array, Float32Array];
      if (y.length > 0) groupNormForwardValues(io.read(x), io.read(gamma), io.read(beta), d, eps, y, mean, rstd);
      return infos;
    },
  };
}

function gradKernel(backendName: 'wasm' | 'cpu'): tf.KernelConfig {
  return {
    kernelName: GROUP_NORM_GRAD_KERNEL,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { dy, x, gamma, mean, rstd } = inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'rstd', tf.TensorInfo>;
      const { numGroups } = attrs as unknown as { numGroups: number };
      const io = access(backendName, backend);
      const d = dimsOf(x, numGroups);
      const { infos, views } = io.alloc([[...x.shape], [d.C], [d.C]]);
      const [dx, dgamma, dbeta] = views() as [Float32Array, Float32Array, Float32Array];
      if (dx.length > 0) groupNormBackwardValues(io.read(dy), io.read(x), io.read(gamma), io.read(mean), io.read(rstd), d, dx, dgamma, dbeta);
      else dgamma.fill(0), dbeta.fill(0);
      return infos;
    },
  };
}

/** The kernels for the wasm and cpu backends. */
export const GROUP_NORM_KERNELS: tf.KernelConfig[] = (['wasm', 'cpu'] as const).flatMap((b) => [forwardKernel(b), gradKernel(b)]);

/** Gradient of `CaGroupNorm`'s first output (mean and rstd are statistics: nothing flows back through them). */
export const GROUP_NORM_GRADIENT: tf.GradConfig = {
  kernelName: GROUP_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  gradFunc: (dys, saved, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    const [x, gamma, mean, rstd] = saved as tf.Tensor[];
    const [dx, dgamma, dbeta] = tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x: x!, gamma: gamma!, mean: mean!, rstd: rstd! }, attrs) as tf.Tensor[];
    return { x: () => dx!, gamma: () => dgamma!, beta: () => dbeta! };
  },
};

let fusedEnabled = true;
let fusedCalls = 0;

/**
 * Turn the fused group-norm kernels on or off (on by default; off gives the composition from tf ops on every
 * backend, e.g. to compare speed or to rule the kernels out when debugging). Returns the previous setting.
 * @example
 * ```ts
 * const before = setFusedGroupNorm(false); // … measure the composition … ; setFusedGroupNorm(before);
 * ```
 */
export function setFusedGroupNorm(enabled: boolean): boolean {
  if (typeof enabled !== 'boolean') throw new ValidationError('setFusedGroupNorm', 'enabled', 'a boolean', enabled);
  const before = fusedEnabled;
  fusedEnabled = enabled;
  return before;
}

/**
 * How many group norms ran through the fused kernels in this process (for tests and diagnostics).
 * @example
 * ```ts
 * fusedGroupNormCalls(); // grows by one per GroupNorm.forward on wasm / cpu
 * ```
 */
export function fusedGroupNormCalls(): number {
  return fusedCalls;
}

/**
 * Group normalisation of `x` `[B, ..., C]` (NHWC images or `[B, L, C]` sequences) over each group of C/G channels
 * and all non-batch positions, then `y·gamma + beta` — the same function as PyTorch's `F.group_norm` on the NCHW
 * layout. Differentiable in `x`, `gamma` and `beta`. Bad arguments throw `ValidationError` naming them.
 *
 * @param x - `[B, ..., C]` float32.
 * @param numGroups - G, a divisor of C.
 * @param gamma - `[C]` weight, or null for none.
 * @param beta - `[C]` bias, or null for none (only with `gamma` null).
 * @param eps - added to the variance.
 * @returns `[B, ..., C]`.
 * @example
 * ```ts
 * const y = groupNorm(tf.ones([1, 4, 4, 8]), 2, tf.ones([8]), tf.zeros([8]), 1e-5); // all zeros
 * ```
 */
export function groupNorm<T extends tf.Tensor>(x: T, numGroups: number, gamma: tf.Tensor | null = null, beta: tf.Tensor | null = null, eps = 1e-5): T {
  const F = 'groupNorm';
  if (!(x instanceof tf.Tensor) || x.isDisposed || x.rank < 2 || x.dtype !== 'float32') throw new ValidationError(F, 'x', 'a float32 tensor [B, ..., C]', x);
  const C = x.shape[x.rank - 1]!;
  if (!Number.isInteger(numGroups) || numGroups < 1 || C % numGroups) throw new ValidationError(F, 'numGroups', `a positive divisor of the channel count ${C}`, numGroups);
  for (const [name, t] of [['gamma', gamma], ['beta', beta]] as const) {
    if (t !== null && (!(t instanceof tf.Tensor) || t.isDisposed || t.rank !== 1 || t.shape[0] !== C)) throw new ValidationError(F, name, `null or a [${C}] tensor`, t);
  }
  if (!(eps >= 0 && eps < Infinity)) throw new ValidationError(F, 'eps', 'a finite number ≥ 0', eps);
  if (fusedEnabled && tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend())) {
    fusedCalls += 1;
    return tf.tidy(() => {
      const [y] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma: gamma ?? tf.ones([C]), beta: beta ?? tf.zeros([C]) }, { numGroups, eps } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      return y as T;
    });
  }
  return tf.tidy(() => {
    const B = x.shape[0]!;
    const grouped = x.reshape([B, -1, numGroups, C / numGroups]); // [B, P, G, C/G]
    const { mean, variance } = tf.moments(grouped, [1, 3], true); // [B, 1, G, 1]
    const normed = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, eps))).reshape(x.shape); // [B, ..., C]
    return (gamma ? tf.add(tf.mul(normed, gamma), beta ?? 0) : normed) as T;
  });
}
