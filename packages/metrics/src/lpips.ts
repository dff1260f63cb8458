/**
 * LPIPS v0.1 (Zhang et al., "The Unreasonable Effectiveness of Deep Features as a Perceptual Metric", CVPR 2018),
 * following richzhang/PerceptualSimilarity `lpips/lpips.py` and `pretrained_networks.py`:
 *
 * 1. scaling layer `(x − shift) / scale` on inputs in [−1, 1];
 * 2. trunk (torchvision AlexNet or VGG16 `features`), five ReLU taps;
 * 3. per tap: unit-normalise each pixel's feature vector over channels, `x / (‖x‖₂ + 1e-10)`;
 * 4. squared difference of the two normalised maps, then the linear head `linK` (1×1 conv C → 1, no bias);
 * 5. spatial mean per layer (or bilinear upsampling to the input size, half-pixel centres) and the sum over layers.
 *
 * Activations are NHWC; conv weights are loaded from PyTorch's OIHW and transposed to HWIO once at load time.
 * Weights come from a safetensors file with the official key names (see the package README for the conversion).
 */
import { tf, readSafetensors, ValidationError, FormatError, type SafetensorsTensor } from '@consistent-avatar/core';
import { assertSameShape, scoreFrames, type FrameScores, type MetricImage } from './image.js';

/**
 * LPIPS trunks.
 * @example
 * ```ts
 * const net: LpipsNet = 'vgg';
 * const lpips = Lpips.fromSafetensors(`lpips_${net}.safetensors`, net);
 * ```
 */
export type LpipsNet = 'alex' | 'vgg';

type Op =
  | { readonly kind: 'conv'; readonly index: number; readonly stride: number; readonly pad: number }
  | { readonly kind: 'pool'; readonly size: number; readonly stride: number }
  | { readonly kind: 'tap' };

const conv = (index: number, stride = 1, pad = 1): Op => ({ kind: 'conv', index, stride, pad });
const pool = (size: number, stride: number): Op => ({ kind: 'pool', size, stride });
const tap: Op = { kind: 'tap' };

/**
 * The trunks as torchvision builds them: `features` indices of the convs (each followed by ReLU), max pools without
 * padding (floor), and the five taps of `pretrained_networks.py` (slice k ends at a tap).
 */
const ARCH: Readonly<Record<LpipsNet, { ops: readonly Op[]; channels: readonly number[] }>> = {
  alex: {
    ops: [
      conv(0, 4, 2), tap, // relu1: conv 11×11 stride 4 pad 2, 3 → 64
      pool(3, 2), conv(3, 1, 2), tap, // relu2: conv 5×5 pad 2, 64 → 192
      pool(3, 2), conv(6), tap, // relu3: 192 → 384
      conv(8), tap, // relu4: 384 → 256
      conv(10), tap, // relu5: 256 → 256
    ],
    channels: [64, 192, 384, 256, 256],
  },
  vgg: {
    ops: [
      conv(0), conv(2), tap, // relu1_2
      pool(2, 2), conv(5), conv(7), tap, // relu2_2
      pool(2, 2), conv(10), conv(12), conv(14), tap, // relu3_3
      pool(2, 2), conv(17), conv(19), conv(21), tap, // relu4_3
      pool(2, 2), conv(24), conv(26), conv(28), tap, // relu5_3
    ],
    channels: [64, 128, 256, 512, 512],
  },
};

/** v0.1 scaling-layer constants as `lpips.py` defines them (used when the file has no `scaling_layer.*`). */
const DEFAULT_SHIFT = [-0.03, -0.088, -0.188];
const DEFAULT_SCALE = [0.458, 0.448, 0.45];

/**
 * Options of {@link Lpips.compute}.
 * @example
 * ```ts
 * lpips.compute(a, b, { normalize: true, spatial: true } satisfies LpipsOptions);
 * ```
 */
export interface LpipsOptions {
  /** Inputs are in [0, 1] and are mapped by `2x − 1` first (lpips' `normalize=True`). Default false: [−1, 1]. */
  readonly normalize?: boolean;
  /** Also return the spatial map `[N, H, W]` (lpips' `spatial=True`). Default false. */
  readonly spatial?: boolean;
  /** Also return each layer's linear-head map before averaging, `[N, h_k, w_k]`. Default false. */
  readonly layerMaps?: boolean;
}

/**
 * Result of {@link Lpips.compute} (plain typed arrays, already downloaded).
 * @example
 * ```ts
 * const r: LpipsResult = lpips.compute(a, b, { spatial: true });
 * console.log(r.distance[0], r.perLayer.slice(0, 5), r.spatial?.shape);
 * ```
 */
export interface LpipsResult {
  /** `[N]` distances. */
  readonly distance: Float32Array;
  /** `[N, 5]` per-layer terms (row-major); each row sums to the distance. */
  readonly perLayer: Float32Array;
  /** `[N, H, W]` when `spatial`: the upsampled layer maps summed. */
  readonly spatial?: { readonly data: Float32Array; readonly shape: [number, number, number] };
  /** When `layerMaps`: per layer `[N, h_k, w_k]`. */
  readonly layerMaps?: { readonly data: Float32Array; readonly shape: [number, number, number] }[];
}

function findKey(tensors: Record<string, SafetensorsTensor>, candidates: string[], file: string): SafetensorsTensor {
  for (const c of candidates) if (Object.hasOwn(tensors, c)) return tensors[c]!;
  throw new FormatError('safetensors', file, `missing LPIPS weight '${candidates[0]}' (also tried ${candidates.slice(1).join(', ')})`);
}

/**
 * LPIPS metric with AlexNet or VGG16 trunk and v0.1 linear heads. Holds its weights as tensors: call
 * {@link Lpips.dispose} when done.
 *
 * @example
 * ```ts
 * const lpips = Lpips.fromSafetensors('lpips_alex.safetensors');   // net inferred from the keys
 * const d = lpips.forward(img0, img1);                             // [N] tensor; inputs NHWC in [-1, 1]
 * const { distance, perLayer } = lpips.compute(img0, img1);        // typed arrays
 * lpips.dispose();
 * ```
 */
export class Lpips {
  readonly net: LpipsNet;
  private readonly convs: Map<number, { weight: tf.Tensor4D; bias: tf.Tensor1D }>;
  private readonly lins: tf.Tensor4D[];
  private readonly shift: tf.Tensor1D;
  private readonly scale: tf.Tensor1D;
  private disposed = false;

  private constructor(
    net: LpipsNet,
    convs: Map<number, { weight: tf.Tensor4D; bias: tf.Tensor1D }>,
    lins: tf.Tensor4D[],
    shift: tf.Tensor1D,
    scale: tf.Tensor1D,
  ) {
    this.net = net;
    this.convs = convs;
    this.lins = lins;
    this.shift = shift;
    this.scale = scale;
  }

  /**
   * Load from a safetensors file (a `.gz` path is gunzipped) holding an `lpips.LPIPS(net=…)` state dict:
   * `net.sliceK.I.weight/bias` (OIHW; torchvision's `features.I.*` also accepted), `linK.model.1.weight`
   * (or `lins.K.model.1.weight`), optional `scaling_layer.shift/scale`.
   *
   * @param path - the file.
   * @param net - the trunk; inferred from the conv shapes when omitted.
   * @example
   * ```ts
   * const lpips = Lpips.fromSafetensors('test/fixtures/lpips/alex/model.safetensors.gz');
   * ```
   */
  static fromSafetensors(path: string, net?: LpipsNet): Lpips {
    if (typeof path !== 'string') throw new ValidationError('Lpips.fromSafetensors', 'path', 'a file path', path);
    const { tensors } = readSafetensors(path);
    return Lpips.fromTensors(tensors, net, path);
  }

  /**
   * Build from already-read tensors (see {@link Lpips.fromSafetensors} for the key names).
   *
   * @example
   * ```ts
   * const { tensors } = readSafetensors('lpips_vgg.safetensors');
   * const lpips = Lpips.fromTensors(tensors, 'vgg');
   * ```
   */
  static fromTensors(tensors: Record<string, SafetensorsTensor>, net?: LpipsNet, file = '<tensors>'): Lpips {
    const fn = 'Lpips.fromTensors';
    if (tensors === null || typeof tensors !== 'object') throw new ValidationError(fn, 'tensors', 'a record of tensors', tensors);
    if (net !== undefined && net !== 'alex' && net !== 'vgg') throw new ValidationError(fn, 'net', "'alex' or 'vgg'", net);
    const resolved: LpipsNet =
      net ?? (Object.hasOwn(tensors, 'net.slice1.0.weight') || Object.hasOwn(tensors, 'features.0.weight')
        ? (findKey(tensors, ['net.slice1.0.weight', 'features.0.weight'], file).shape[2] === 11 ? 'alex' : 'vgg')
        : 'alex');
    const arch = ARCH[resolved];
    const created: tf.Tensor[] = [];
    try {
      const convs = new Map<number, { weight: tf.Tensor4D; bias: tf.Tensor1D }>();
      let slice = 1;
      for (const op of arch.ops) {
        if (op.kind === 'tap') slice++;
        if (op.kind !== 'conv') continue;
        const base = [`net.slice${slice}.${op.index}`, `features.${op.index}`];
        const w = findKey(tensors, base.map((b) => `${b}.weight`), file);
        const b = findKey(tensors, base.map((k) => `${k}.bias`), file);
        if (w.shape.length !== 4 || b.shape.length !== 1 || b.shape[0] !== w.shape[0]) {
          throw new FormatError('safetensors', file, `${base[0]}: expected OIHW weight and [O] bias, got [${w.shape}] and [${b.shape}]`);
        }
        const oihw = tf.tensor4d(Float32Array.from(w.data as ArrayLike<number>), w.shape as [number, number, number, number]);
        const weight = tf.transpose(oihw, [2, 3, 1, 0]) as tf.Tensor4D; // OIHW → HWIO
        oihw.dispose();
        const bias = tf.tensor1d(Float32Array.from(b.data as ArrayLike<number>));
        created.push(weight, bias);
        convs.set(op.index, { weight, bias });
      }
      const lins: tf.Tensor4D[] = arch.channels.map((c, k) => {
        const t = findKey(tensors, [`lin${k}.model.1.weight`, `lins.${k}.model.1.weight`], file);
        if (t.shape.join() !== [1, c, 1, 1].join()) {
          throw new FormatError('safetensors', file, `lin${k}.model.1.weight: expected [1, ${c}, 1, 1], got [${t.shape}]`);
        }
        const lin = tf.tensor4d(Float32Array.from(t.data as ArrayLike<number>), [1, 1, c, 1]); // HWIO
        created.push(lin);
        return lin;
      });
      const buf = (name: string, fallback: number[]) => {
        const t = tensors[name];
        const v = t ? Array.from(t.data as ArrayLike<number>) : fallback;
        if (v.length !== 3) throw new FormatError('safetensors', file, `${name}: expected 3 values, got ${v.length}`);
        const out = tf.tensor1d(v);
        created.push(out);
        return out;
      };
      const shift = buf('scaling_layer.shift', DEFAULT_SHIFT);
      const scale = buf('scaling_layer.scale', DEFAULT_SCALE);
      return new Lpips(resolved, convs, lins, shift, scale);
    } catch (error) {
      for (const t of created) t.dispose();
      throw error;
    }
  }

  private checkInputs(fn: string, in0: tf.Tensor4D, in1: tf.Tensor4D): void {
    if (this.disposed) throw new ValidationError(fn, 'this', 'an undisposed Lpips', 'disposed');
    for (const [name, t] of [['in0', in0], ['in1', in1]] as const) {
      if (!(t instanceof tf.Tensor) || t.rank !== 4 || t.shape[3] !== 3) {
        throw new ValidationError(fn, name, 'a [N, H, W, 3] tensor', t);
      }
    }
    if (in0.shape.join() !== in1.shape.join()) {
      throw new ValidationError(fn, 'in1', `the shape of in0 [${in0.shape}]`, in1);
    }
  }

  /** Steps 1–4: per layer, the linear-head map `[N, h_k, w_k, 1]`. */
  private layerLinMaps(in0: tf.Tensor4D, in1: tf.Tensor4D, normalize: boolean): tf.Tensor4D[] {
    const feats = (x: tf.Tensor4D): tf.Tensor4D[] => {
      // 1. Scaling layer (v0.1).
      let h: tf.Tensor4D = normalize ? tf.sub(tf.mul(x, 2), 1) : x;
      h = tf.div(tf.sub(h, this.shift), this.scale);
      const taps: tf.Tensor4D[] = [];
      // 2. Trunk.
      for (const op of ARCH[this.net].ops) {
        if (op.kind === 'tap') taps.push(h);
        else if (op.kind === 'pool') h = tf.maxPool(h, op.size, op.stride, 'valid');
        else {
          const { weight, bias } = this.convs.get(op.index)!;
          // conv + bias + ReLU in one kernel (tfjs falls back to separate ops while recording gradients).
          h = tf.fused.conv2d({ x: h, filter: weight, strides: op.stride, pad: op.pad, bias, activation: 'relu' });
        }
      }
      return taps;
    };
    const f0 = feats(in0);
    const f1 = feats(in1);
    // 3. Unit-normalise over channels: x / (sqrt(Σ x²) + 1e-10).
    const unit = (x: tf.Tensor4D): tf.Tensor4D => tf.div(x, tf.add(tf.sqrt(tf.sum(tf.square(x), 3, true)), 1e-10));
    // 4. Squared difference → 1×1 linear head.
    return f0.map((a, k) => {
      const diff = tf.squaredDifference(unit(a), unit(f1[k]!)) as tf.Tensor4D;
      return tf.conv2d(diff, this.lins[k]!, 1, 'valid'); // [N, h, w, 1]
    });
  }

  /**
   * LPIPS distances as a tensor (differentiable; use inside `tf.tidy` / `tf.grad`).
   *
   * @param in0 - `[N, H, W, 3]` images in [−1, 1] (or [0, 1] with `normalize`).
   * @param in1 - the other images, same shape.
   * @returns `[N]` distances.
   * @example
   * ```ts
   * const d = tf.tidy(() => lpips.forward(a, b)); // [N]
   * ```
   */
  forward(in0: tf.Tensor4D, in1: tf.Tensor4D, options: { normalize?: boolean } = {}): tf.Tensor1D {
    this.checkInputs('Lpips.forward', in0, in1);
    return tf.tidy(() => {
      const maps = this.layerLinMaps(in0, in1, options.normalize ?? false);
      // 5. Spatial mean per layer, summed over layers.   // [N]
      return tf.addN(maps.map((m) => tf.mean(m, [1, 2, 3]))) as tf.Tensor1D;
    });
  }

  /**
   * LPIPS distances with per-layer terms and optional spatial / layer maps, downloaded to typed arrays.
   *
   * @example
   * ```ts
   * const r = lpips.compute(a, b, { spatial: true });
   * r.distance;       // Float32Array [N]
   * r.perLayer;       // Float32Array [N·5]
   * r.spatial!.shape; // [N, H, W]
   * ```
   */
  compute(in0: tf.Tensor4D, in1: tf.Tensor4D, options: LpipsOptions = {}): LpipsResult {
    this.checkInputs('Lpips.compute', in0, in1);
    const [n, height, width] = in0.shape;
    const out = tf.tidy(() => {
      const maps = this.layerLinMaps(in0, in1, options.normalize ?? false);
      const perLayer = tf.stack(maps.map((m) => tf.mean(m, [1, 2, 3])), 1); // [N, 5]
      const distance = tf.sum(perLayer, 1); // [N]
      const spatial = options.spatial
        ? tf.addN(maps.map((m) => tf.image.resizeBilinear(m, [height, width], false, true))) // [N, H, W, 1]
        : undefined;
      return { perLayer, distance, spatial, maps: options.layerMaps ? maps : undefined };
    });
    try {
      const result: LpipsResult = {
        distance: out.distance.dataSync() as Float32Array,
        perLayer: out.perLayer.dataSync() as Float32Array,
        ...(out.spatial ? { spatial: { data: out.spatial.dataSync() as Float32Array, shape: [n, height, width] as [number, number, number] } } : {}),
        ...(out.maps
          ? {
              layerMaps: out.maps.map((m) => ({
                data: m.dataSync() as Float32Array,
                shape: [m.shape[0], m.shape[1], m.shape[2]] as [number, number, number],
              })),
            }
          : {}),
      };
      return result;
    } finally {
      out.distance.dispose();
      out.perLayer.dispose();
      out.spatial?.dispose();
      out.maps?.forEach((m) => m.dispose());
    }
  }

  /** Free the weight tensors. */
  dispose(): void {
    if (this.disposed) return;
    for (const { weight, bias } of this.convs.values()) {
      weight.dispose();
      bias.dispose();
    }
    for (const l of this.lins) l.dispose();
    this.shift.dispose();
    this.scale.dispose();
    this.disposed = true;
  }
}

/**
 * LPIPS of aligned frame lists (`[H, W, 3]` images in [0, 1]), in batches; per-frame values and their mean.
 *
 * @example
 * ```ts
 * const { perFrame, mean } = lpipsFrames(lpips, generatedFrames, realFrames, { batchSize: 4 });
 * ```
 */
export function lpipsFrames(
  model: Lpips,
  generated: readonly MetricImage[],
  reference: readonly MetricImage[],
  options: { batchSize?: number } = {},
): FrameScores {
  const fn = 'lpipsFrames';
  if (!(model instanceof Lpips)) throw new ValidationError(fn, 'model', 'an Lpips instance', model);
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new ValidationError(fn, 'options.batchSize', 'an integer >= 1', batchSize);
  // Validate pairs (and lengths) once, through the shared frame helper; compute in batches below.
  scoreFrames(fn, generated, reference, (g, r) => {
    assertSameShape(fn, generated[0]!, g, 'generated[0]', 'generated[i]');
    assertSameShape(fn, g, r, 'generated[i]', 'reference[i]');
    if (g.channels !== 3) throw new ValidationError(fn, 'generated[i].channels', '3 (RGB)', g.channels);
    return 0;
  });
  const toBatch = (frames: readonly MetricImage[]) => {
    const { height, width } = frames[0]!;
    const data = new Float32Array(frames.length * height * width * 3);
    frames.forEach((f, i) => data.set(f.data, i * height * width * 3));
    return tf.tensor4d(data, [frames.length, height, width, 3]); // [B, H, W, 3]
  };
  const perFrame: number[] = [];
  for (let s = 0; s < generated.length; s += batchSize) {
    const a = toBatch(generated.slice(s, s + batchSize));
    const b = toBatch(reference.slice(s, s + batchSize));
    try {
      perFrame.push(...model.compute(a, b, { normalize: true }).distance);
    } finally {
      a.dispose();
      b.dispose();
    }
  }
  return { perFrame, mean: perFrame.reduce((x, y) => x + y, 0) / perFrame.length };
}
