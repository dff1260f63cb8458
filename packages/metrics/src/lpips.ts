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
 * Activations are NHWC. The network is an `nn.Module` with `lpips.LPIPS`'s key names; weights come from a
 * safetensors file with the official key names (see the package README for the conversion) and load through
 * `nn.Module.loadStateDict` with the torch layout (OIHW convolutions → HWIO, the `[1, 3, 1, 1]` scaling buffers →
 * NHWC). Frames for {@link lpipsFrames} are core `Image`s (float in [0, 1] or bytes, converted once).
 */
import { checkFinite, nn, tf, readSafetensors, ValidationError, type Image, type SafetensorsTensor } from '@consistent-avatar/core';
import { assertSameShape, floatImage, scoreFrames, type FrameScores } from './image.js';
import { Children, loadReferenceWeights } from './reference-weights.js';

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
  | { readonly kind: 'conv'; readonly index: number; readonly out: number; readonly size: number; readonly stride: number; readonly pad: number }
  | { readonly kind: 'pool'; readonly size: number; readonly stride: number }
  | { readonly kind: 'tap' };

/** torchvision `features[index]`: a conv to `out` channels (size × size kernel), followed by a ReLU. */
const conv = (index: number, out: number, size = 3, stride = 1, pad = 1): Op => ({ kind: 'conv', index, out, size, stride, pad });
const pool = (size: number, stride: number): Op => ({ kind: 'pool', size, stride });
const tap: Op = { kind: 'tap' };

/**
 * The trunks as torchvision builds them: `features` indices of the convs (each followed by ReLU), max pools without
 * padding (floor), and the five taps of `pretrained_networks.py` (slice k ends at a tap).
 */
const ARCH: Readonly<Record<LpipsNet, { ops: readonly Op[]; channels: readonly number[] }>> = {
  alex: {
    ops: [
      conv(0, 64, 11, 4, 2), tap, // relu1: conv 11×11 stride 4 pad 2, 3 → 64
      pool(3, 2), conv(3, 192, 5, 1, 2), tap, // relu2: conv 5×5 pad 2, 64 → 192
      pool(3, 2), conv(6, 384), tap, // relu3: 192 → 384
      conv(8, 256), tap, // relu4: 384 → 256
      conv(10, 256), tap, // relu5: 256 → 256
    ],
    channels: [64, 192, 384, 256, 256],
  },
  vgg: {
    ops: [
      conv(0, 64), conv(2, 64), tap, // relu1_2
      pool(2, 2), conv(5, 128), conv(7, 128), tap, // relu2_2
      pool(2, 2), conv(10, 256), conv(12, 256), conv(14, 256), tap, // relu3_3
      pool(2, 2), conv(17, 512), conv(19, 512), conv(21, 512), tap, // relu4_3
      pool(2, 2), conv(24, 512), conv(26, 512), conv(28, 512), tap, // relu5_3
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
  /** Accept NaN / ±Infinity in the inputs (rejected by default: the library's non-finite policy). */
  readonly allowNonFinite?: boolean;
}

/**
 * The smallest image side each trunk accepts: every convolution and pool must keep at least one output position
 * (AlexNet: 31 px, VGG16: 16 px). Smaller inputs would make a zero-sized pool, which aborts the wasm backend for the
 * rest of the process, so they are refused with a {@link ValidationError} first.
 *
 * @example
 * ```ts
 * lpipsMinimumSize('alex'); // 31
 * ```
 */
export function lpipsMinimumSize(net: LpipsNet): number {
  if (net !== 'alex' && net !== 'vgg') throw new ValidationError('lpipsMinimumSize', 'net', "'alex' or 'vgg'", net);
  for (let side = 1; ; side++) {
    let h = side;
    for (const op of ARCH[net].ops) {
      if (op.kind === 'conv') h = Math.floor((h + 2 * op.pad - op.size) / op.stride) + 1;
      else if (op.kind === 'pool') h = Math.floor((h - op.size) / op.stride) + 1;
      if (h < 1) break;
    }
    if (h >= 1) return side;
  }
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

/** v0.1 scaling layer: buffers `shift` / `scale`, PyTorch `[1, 3, 1, 1]` ↔ ours `[1, 1, 1, 3]`. */
class ScalingLayer extends nn.Module {
  readonly shift = this.registerBuffer('shift', tf.tensor4d(DEFAULT_SHIFT, [1, 1, 1, 3]), 'nchw');
  readonly scale = this.registerBuffer('scale', tf.tensor4d(DEFAULT_SCALE, [1, 1, 1, 3]), 'nchw');
}

/** The slice (1–5) of `pretrained_networks.py` that holds torchvision `features` layer `index` (0: none). */
function sliceOf(net: LpipsNet, index: number): number {
  let slice = 1;
  for (const op of ARCH[net].ops) {
    if (op.kind === 'tap') slice++;
    else if (op.kind === 'conv' && op.index === index) return slice;
  }
  return 0;
}

/** The `lpips.LPIPS` key of a file key: torchvision's `features.I.*` and lpips' `lins.K.*` aliases renamed. */
function lpipsKey(net: LpipsNet, key: string): string {
  const features = /^features\.(\d+)\.(weight|bias)$/.exec(key);
  if (features) {
    const slice = sliceOf(net, Number(features[1]));
    return slice ? `net.slice${slice}.${features[1]}.${features[2]}` : key;
  }
  return key.replace(/^lins\.(\d+)\./, 'lin$1.');
}

/**
 * LPIPS metric with AlexNet or VGG16 trunk and v0.1 linear heads: an `nn.Module` whose state-dict keys are
 * `lpips.LPIPS`'s (`scaling_layer.shift/scale`, `net.sliceK.I.weight/bias`, `linK.model.1.weight`). Holds its weights
 * as tensors: call {@link Lpips.dispose} when done.
 *
 * @example
 * ```ts
 * const lpips = Lpips.fromSafetensors('lpips_alex.safetensors');   // net inferred from the keys
 * const d = lpips.forward(img0, img1);                             // [N] tensor; inputs NHWC in [-1, 1]
 * const { distance, perLayer } = lpips.compute(img0, img1);        // typed arrays
 * lpips.dispose();
 * ```
 */
export class Lpips extends nn.Module {
  readonly net: LpipsNet;
  readonly scaling_layer: ScalingLayer;
  /** The trunk's convolutions by torchvision `features` index (registered as `net.sliceK.I`). */
  private readonly convs = new Map<number, nn.Conv2d>();
  /** `linK.model.1`: the 1×1 linear heads, no bias. */
  private readonly lins: nn.Conv2d[];

  private constructor(net: LpipsNet) {
    super();
    this.net = net;
    const arch = ARCH[net];
    this.scaling_layer = this.registerModule('scaling_layer', new ScalingLayer());
    // Weights come from the file; the constructors' seeded init is overwritten.
    const trunk = this.registerModule('net', new Children());
    const slices = arch.channels.map((_, k) => trunk.add(`slice${k + 1}`, new Children())); // net.slice1 … net.slice5
    let slice = 0;
    let channels = 3;
    for (const op of arch.ops) {
      if (op.kind === 'tap') slice++;
      if (op.kind !== 'conv') continue;
      this.convs.set(op.index, slices[slice]!.add(op.index, new nn.Conv2d(channels, op.out, op.size, { stride: op.stride, padding: op.pad })));
      channels = op.out;
    }
    this.lins = arch.channels.map((c, k) => this.registerModule(`lin${k}`, new Children()).add('model', new Children()).add(1, new nn.Conv2d(c, 1, 1, { bias: false })));
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
   * Build from already-read tensors (see {@link Lpips.fromSafetensors} for the key names). The weights load through
   * `nn.Module.loadStateDict` with the torch layout; missing or mis-shaped weights throw a
   * {@link @consistent-avatar/core!FormatError | FormatError}.
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
    // The first conv is 11×11 in AlexNet, 3×3 in VGG16.
    const first = tensors['net.slice1.0.weight'] ?? tensors['features.0.weight'];
    const resolved: LpipsNet = net ?? (first?.shape[2] === 3 ? 'vgg' : 'alex');
    const model = new Lpips(resolved);
    try {
      loadReferenceWeights(model, tensors, {
        file,
        what: 'LPIPS',
        rename: (key) => lpipsKey(resolved, key),
        optional: (key) => key.startsWith('scaling_layer.'), // lpips sets these in code; the official files lack them
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  private checkInputs(fn: string, in0: tf.Tensor4D, in1: tf.Tensor4D, options: { allowNonFinite?: boolean }): void {
    if (this.isDisposed) throw new ValidationError(fn, 'this', 'an undisposed Lpips', 'disposed');
    for (const [name, t] of [['in0', in0], ['in1', in1]] as const) {
      if (!(t instanceof tf.Tensor) || t.rank !== 4 || t.shape[3] !== 3) {
        throw new ValidationError(fn, name, 'a [N, H, W, 3] tensor', t);
      }
    }
    if (in0.shape.join() !== in1.shape.join()) {
      throw new ValidationError(fn, 'in1', `the shape of in0 [${in0.shape}]`, in1);
    }
    const min = lpipsMinimumSize(this.net);
    if (in0.shape[1] < min || in0.shape[2] < min) {
      throw new ValidationError(fn, 'in0', `images of at least ${min}×${min} pixels (the ${this.net} trunk's minimum)`, in0);
    }
    checkFinite(fn, 'in0', in0, options);
    checkFinite(fn, 'in1', in1, options);
  }

  /** Steps 1–4: per layer, the linear-head map `[N, h_k, w_k, 1]`. */
  private layerLinMaps(in0: tf.Tensor4D, in1: tf.Tensor4D, normalize: boolean): tf.Tensor4D[] {
    const feats = (x: tf.Tensor4D): tf.Tensor4D[] => {
      // 1. Scaling layer (v0.1).
      let h: tf.Tensor4D = normalize ? tf.sub(tf.mul(x, 2), 1) : x;
      h = tf.div(tf.sub(h, this.scaling_layer.shift), this.scaling_layer.scale);
      const taps: tf.Tensor4D[] = [];
      // 2. Trunk: conv + ReLU, max pools, a tap at the end of each slice.
      for (const op of ARCH[this.net].ops) {
        if (op.kind === 'tap') taps.push(h);
        else if (op.kind === 'pool') h = tf.maxPool(h, op.size, op.stride, 'valid');
        else h = tf.relu(this.convs.get(op.index)!.forward(h));
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
      return this.lins[k]!.forward(diff); // [N, h, w, 1]
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
  forward(in0: tf.Tensor4D, in1: tf.Tensor4D, options: { normalize?: boolean; allowNonFinite?: boolean } = {}): tf.Tensor1D {
    this.checkInputs('Lpips.forward', in0, in1, options);
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
    this.checkInputs('Lpips.compute', in0, in1, options);
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
}

/**
 * LPIPS of aligned frame lists (`[H, W, 3]` images, float in [0, 1] or bytes), in batches; per-frame values and their mean.
 *
 * @example
 * ```ts
 * const { perFrame, mean } = lpipsFrames(lpips, generatedFrames, realFrames, { batchSize: 4 });
 * ```
 */
export function lpipsFrames(
  model: Lpips,
  generated: readonly Image[],
  reference: readonly Image[],
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
  const toBatch = (frames: readonly Image[]) => {
    const { height, width } = frames[0]!;
    const data = new Float32Array(frames.length * height * width * 3);
    frames.forEach((f, i) => data.set(floatImage(fn, 'frames[i]', f).data, i * height * width * 3)); // bytes → [0, 1], once
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
