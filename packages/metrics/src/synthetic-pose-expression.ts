/**
 * The embedded default {@link PoseExpressionEstimator}: a small CNN **trained here from scratch on renders of the
 * synthetic head** (`renderPoseExpressionSet`), regressing the paper pose P ∈ R^6 (global ⊕ jaw axis-angle) and
 * the 100 expression coefficients of that head. It is not DECA and has never seen a real face: its numbers are
 * meaningful on synthetic-head renders (the embedded demo's frames) and only there.
 *
 * Network (NHWC, input `[B, S, S, 3]` in [0, 1], S = `config.size`, default 64):
 * 1. x·2 − 1.
 * 2. Per stage c of `config.channels`: Conv 3×3 stride 2 → GroupNorm → SiLU → Conv 3×3 → GroupNorm → SiLU
 *    (S halves per stage: 64 → 32 → 16 → 8 → 4).
 * 3. Flatten the last map (spatial layout matters for pose) → Linear(·, hidden) → SiLU → Linear(hidden, 6 + 100).
 * 4. Outputs are normalised targets: pose = out[:6]·poseStd + poseMean, expression = out[6:]·exprStd + exprMean,
 *    with the training set's statistics stored in the config.
 *
 * Files: `<base>.safetensors` (parameters by dotted name) and `<base>.json` (the flat config, including the target
 * statistics and how the weights were trained).
 *
 * @example
 * ```ts
 * import { loadEmbeddedPoseExpressionEstimator, evaluatePoseExpression } from '@consistent-avatar/metrics';
 * const estimator = loadEmbeddedPoseExpressionEstimator();
 * const { pe, ee } = await evaluatePoseExpression(estimator, generatedFrames, realFrames);
 * estimator.dispose();
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkFinite,
  checkImage,
  configField as f,
  derivedDefault,
  FormatError,
  loadSafetensorsAsTensors,
  nn,
  readJson,
  resolveConfig,
  Rng,
  tf,
  ValidationError,
  writeJsonAtomic,
  writeSafetensors,
  type ConfigSchema,
  type Image,
} from '@consistent-avatar/core';
import { floatImage } from './image.js';
import type { PoseExpressionCodes, PoseExpressionEstimator } from './pose-expression.js';

/**
 * Flat, JSON-serialisable configuration of {@link SyntheticPoseExpressionNet}.
 * @example
 * ```ts
 * const c = resolveSyntheticPoseExpressionConfig({ channels: [8, 16, 32, 64], hidden: 64 });
 * ```
 */
export interface SyntheticPoseExpressionConfig {
  /** Input size S (square). Default 64. */
  readonly size: number;
  /** Channels per stride-2 stage. Default `[16, 32, 64, 128]`. */
  readonly channels: readonly number[];
  /** GroupNorm groups (divides every channel count). Default 8. */
  readonly groups: number;
  /** Hidden width of the head. Default 256. */
  readonly hidden: number;
  /** Expression coefficients regressed. Default 100. */
  readonly expressionSize: number;
  /** Seed of the initial weights. Default 0. */
  readonly seed: number;
  /** Target normalisation (training-set mean / std), length 6. Default zeros / ones. */
  readonly poseMean: readonly number[];
  readonly poseStd: readonly number[];
  /** Target normalisation, length `expressionSize`. Default zeros / ones. */
  readonly expressionMean: readonly number[];
  readonly expressionStd: readonly number[];
  /** Free-form record of how the weights were obtained (written by the trainer). */
  readonly training?: Record<string, unknown>;
}

const FN = 'resolveSyntheticPoseExpressionConfig';
const fill = (n: number, v: number) => Array.from({ length: n }, () => v);

/** How each field is checked (core's config validator); cross-field rules in the resolver. */
const FIELDS: ConfigSchema<SyntheticPoseExpressionConfig> = {
  size: f.positiveInt(),
  channels: f.intArray({ min: 1, minLength: 1 }),
  groups: f.positiveInt(),
  hidden: f.positiveInt(),
  expressionSize: f.positiveInt(),
  seed: f.nonNegativeInt(),
  poseMean: f.numberArray({ length: 6 }),
  poseStd: f.numberArray({ length: 6, min: 0, minOpen: true }),
  expressionMean: f.numberArray(),
  expressionStd: f.numberArray({ min: 0, minOpen: true }),
  training: f.optional(f.jsonObject()),
};

/** Defaults; the expression statistics default to zeros / ones of length `expressionSize`. */
const DEFAULTS = {
  size: 64,
  channels: [16, 32, 64, 128],
  groups: 8,
  hidden: 256,
  expressionSize: 100,
  seed: 0,
  poseMean: fill(6, 0),
  poseStd: fill(6, 1),
  expressionMean: derivedDefault((c: SyntheticPoseExpressionConfig) => fill(c.expressionSize, 0)),
  expressionStd: derivedDefault((c: SyntheticPoseExpressionConfig) => fill(c.expressionSize, 1)),
};

/**
 * Fill in defaults and validate a config (throws {@link ValidationError} naming the field; unknown fields too).
 * @example
 * ```ts
 * const config = resolveSyntheticPoseExpressionConfig({}); // size 64, channels [16, 32, 64, 128], hidden 256
 * ```
 */
export function resolveSyntheticPoseExpressionConfig(partial: Partial<SyntheticPoseExpressionConfig> = {}): SyntheticPoseExpressionConfig {
  const c = resolveConfig<SyntheticPoseExpressionConfig>({ fn: FN, fields: FIELDS, defaults: DEFAULTS }, partial);
  if (c.size % 2 ** c.channels.length !== 0) {
    throw new ValidationError(FN, 'config.size', `a positive multiple of 2^${c.channels.length} (one halving per stage)`, c.size);
  }
  if (!c.channels.every((ch) => ch % c.groups === 0)) throw new ValidationError(FN, 'config.groups', `a divisor of every channel count (${c.channels})`, c.groups);
  for (const k of ['expressionMean', 'expressionStd'] as const) {
    if (c[k].length !== c.expressionSize) throw new ValidationError(FN, `config.${k}`, `${c.expressionSize} values (expressionSize)`, c[k]);
  }
  return c;
}

/** One stride-2 stage: Conv 3×3 /2 → GN → SiLU → Conv 3×3 → GN → SiLU. */
class Stage extends nn.Module {
  readonly down: nn.Conv2d;
  readonly norm1: nn.GroupNorm;
  readonly conv: nn.Conv2d;
  readonly norm2: nn.GroupNorm;
  constructor(inChannels: number, outChannels: number, groups: number, rng: Rng) {
    super();
    this.down = this.registerModule('down', new nn.Conv2d(inChannels, outChannels, 3, { stride: 2, padding: 1, rng: rng.fork('down') }));
    this.norm1 = this.registerModule('norm1', new nn.GroupNorm(groups, outChannels));
    this.conv = this.registerModule('conv', new nn.Conv2d(outChannels, outChannels, 3, { padding: 1, rng: rng.fork('conv') }));
    this.norm2 = this.registerModule('norm2', new nn.GroupNorm(groups, outChannels));
  }
  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const h = nn.silu(this.norm1.forward(this.down.forward(x)));
      return nn.silu(this.norm2.forward(this.conv.forward(h)));
    });
  }
}

/**
 * The regressor network (see the module docs); outputs normalised targets `[B, 6 + expressionSize]`.
 * @example
 * ```ts
 * const net = new SyntheticPoseExpressionNet(resolveSyntheticPoseExpressionConfig());
 * const out = tf.tidy(() => net.forward(tf.zeros([2, 64, 64, 3]) as tf.Tensor4D)); // [2, 106]
 * net.dispose();
 * ```
 */
export class SyntheticPoseExpressionNet extends nn.Module {
  readonly config: SyntheticPoseExpressionConfig;
  readonly stages: nn.ModuleList<Stage>;
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;

  constructor(config: SyntheticPoseExpressionConfig) {
    super();
    this.config = config;
    const rng = new Rng(config.seed).fork('synthetic-pose-expression');
    const stages: Stage[] = [];
    let inChannels = 3;
    config.channels.forEach((c, i) => {
      stages.push(new Stage(inChannels, c, config.groups, rng.fork(`stage${i}`)));
      inChannels = c;
    });
    this.stages = this.registerModule('stages', new nn.ModuleList(stages));
    const side = config.size / 2 ** config.channels.length;
    this.fc1 = this.registerModule('fc1', new nn.Linear(side * side * inChannels, config.hidden, { rng: rng.fork('fc1') }));
    this.fc2 = this.registerModule('fc2', new nn.Linear(config.hidden, 6 + config.expressionSize, { rng: rng.fork('fc2') }));
  }

  /** `[B, S, S, 3]` in [0, 1] → normalised targets `[B, 6 + expressionSize]` (differentiable). */
  forward(images: tf.Tensor4D): tf.Tensor2D {
    const S = this.config.size;
    if (!(images instanceof tf.Tensor) || images.rank !== 4 || images.shape[1] !== S || images.shape[2] !== S || images.shape[3] !== 3) {
      throw new ValidationError('SyntheticPoseExpressionNet.forward', 'images', `a [B, ${S}, ${S}, 3] tensor`, images);
    }
    return tf.tidy(() => {
      let x = tf.sub(tf.mul(images, 2), 1) as tf.Tensor4D; // 1. [0, 1] → [−1, 1]
      for (const stage of this.stages) x = stage.forward(x); // 2. [B, S/2^k, S/2^k, C]
      const flat = x.reshape([x.shape[0], -1]); // 3. [B, side·side·C]
      return this.fc2.forward(nn.silu(this.fc1.forward(flat))) as tf.Tensor2D; // [B, 6 + n]
    });
  }
}

/**
 * Bring frames to the network's `[B, S, S, 3]`: area-average by the integer factor, then bilinear for the rest.
 * Renders at 2S box-filtered to S equal a supersampled render at S, which is how the training set was made.
 */
function toNetworkInput(frames: readonly Image[], size: number): tf.Tensor4D {
  return tf.tidy(() => {
    const { height, width } = frames[0]!;
    const data = new Float32Array(frames.length * height * width * 3);
    frames.forEach((f, i) => data.set(floatImage('SyntheticPoseExpressionEstimator.prepare', `frames[${i}]`, f).data, i * height * width * 3)); // bytes → [0, 1]
    let x = tf.tensor4d(data, [frames.length, height, width, 3]);
    const factor = Math.floor(height / size);
    if (factor >= 2) x = tf.avgPool(x, factor, factor, 'valid');
    if (x.shape[1] !== size || x.shape[2] !== size) x = tf.image.resizeBilinear(x, [size, size], false, true);
    return x;
  });
}

const BATCH = 32;

/**
 * The embedded synthetic-head regressor as a {@link PoseExpressionEstimator} (see the module docs). Own the
 * instance: call {@link SyntheticPoseExpressionEstimator.dispose}.
 *
 * @example
 * ```ts
 * const est = SyntheticPoseExpressionEstimator.load('weights/synthetic-pose-expression');
 * const [codes] = await est.estimate([frame]); // codes.pose: Float32Array(6), codes.expression: Float32Array(100)
 * est.dispose();
 * ```
 */
export class SyntheticPoseExpressionEstimator implements PoseExpressionEstimator {
  readonly specificationVersion = 'v1' as const;
  readonly name = 'embedded synthetic-head regressor (trained on synthetic renders, not DECA)';
  readonly expressionSize: number;
  readonly config: SyntheticPoseExpressionConfig;
  private net: SyntheticPoseExpressionNet | undefined;

  /**
   * Wrap a network (takes ownership). Use {@link SyntheticPoseExpressionEstimator.load} for saved weights.
   * @example
   * ```ts
   * const est = new SyntheticPoseExpressionEstimator(new SyntheticPoseExpressionNet(resolveSyntheticPoseExpressionConfig()));
   * ```
   */
  constructor(net: SyntheticPoseExpressionNet) {
    if (!(net instanceof SyntheticPoseExpressionNet) || net.isDisposed) {
      throw new ValidationError('SyntheticPoseExpressionEstimator', 'net', 'an undisposed SyntheticPoseExpressionNet', net);
    }
    this.net = net;
    this.config = net.config;
    this.expressionSize = net.config.expressionSize;
  }

  /** The wrapped network (throws once disposed). @example `const n = est.network.parameterCount();` */
  get network(): SyntheticPoseExpressionNet {
    if (!this.net) throw new ValidationError('SyntheticPoseExpressionEstimator', 'this', 'an undisposed estimator', 'disposed');
    return this.net;
  }

  /**
   * Load `<base>.safetensors` + `<base>.json` (a trailing `.safetensors` or `.json` on `base` is ignored).
   * @example
   * ```ts
   * const est = SyntheticPoseExpressionEstimator.load('runs/pe/final');
   * ```
   */
  static load(base: string): SyntheticPoseExpressionEstimator {
    const fn = 'SyntheticPoseExpressionEstimator.load';
    if (typeof base !== 'string' || base.length === 0) throw new ValidationError(fn, 'base', 'a file path (without extension)', base);
    const stem = base.replace(/\.(safetensors|json)$/, '');
    const [weightsFile, configFile] = [`${stem}.safetensors`, `${stem}.json`];
    for (const f of [weightsFile, configFile]) if (!fs.existsSync(f)) throw new FormatError('synthetic-pose-expression', f, 'missing file');
    const config = readJson(configFile, (v) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('expected a config object');
      return resolveSyntheticPoseExpressionConfig(v as Partial<SyntheticPoseExpressionConfig>);
    });
    const net = new SyntheticPoseExpressionNet(config);
    const tensors = loadSafetensorsAsTensors(weightsFile);
    try {
      net.loadStateDict(tensors, { strict: true, source: weightsFile });
    } catch (error) {
      net.dispose();
      throw error;
    } finally {
      tf.dispose(Object.values(tensors));
    }
    return new SyntheticPoseExpressionEstimator(net.eval());
  }

  /**
   * Write `<base>.safetensors` and `<base>.json` atomically.
   * @example
   * ```ts
   * est.save('packages/metrics/weights/synthetic-pose-expression');
   * ```
   */
  save(base: string): void {
    if (typeof base !== 'string' || base.length === 0) throw new ValidationError('SyntheticPoseExpressionEstimator.save', 'base', 'a file path (without extension)', base);
    const stem = base.replace(/\.(safetensors|json)$/, '');
    fs.mkdirSync(path.dirname(path.resolve(stem)), { recursive: true });
    writeSafetensors(`${stem}.safetensors`, this.network.stateDict(), { model: 'synthetic-pose-expression', label: 'trained on synthetic-head renders' });
    writeJsonAtomic(`${stem}.json`, this.config);
  }

  /**
   * Raw network input for frames (validation + resizing), `[N, S, S, 3]`.
   * @example
   * ```ts
   * const x = est.prepare([frame]); // [1, 64, 64, 3]
   * x.dispose();
   * ```
   */
  prepare(frames: readonly Image[], fn = 'SyntheticPoseExpressionEstimator.prepare'): tf.Tensor4D {
    if (!Array.isArray(frames)) throw new ValidationError(fn, 'frames', 'an array of [H, W, 3] images', frames);
    const S = this.config.size;
    for (const [i, f] of frames.entries()) {
      checkImage(fn, `frames[${i}]`, f, { channels: [3] });
      if (f.height !== f.width || f.height < S / 2) {
        throw new ValidationError(fn, `frames[${i}]`, `a square image of at least ${S / 2}×${S / 2} (the head centred, as the synthetic renders)`, `${f.height}×${f.width}`);
      }
      if (f.height !== frames[0]!.height) throw new ValidationError(fn, `frames[${i}].height`, `the size of frames[0] (${frames[0]!.height})`, f.height);
    }
    return toNetworkInput(frames, S);
  }

  /**
   * Codes for a batch of `[N, S, S, 3]` network inputs, de-normalised: `[N, 6 + expressionSize]`.
   * @example
   * ```ts
   * const codes = tf.tidy(() => est.predict(est.prepare(frames))); // [N, 106]
   * ```
   */
  predict(input: tf.Tensor4D): tf.Tensor2D {
    const c = this.config;
    const fn = 'SyntheticPoseExpressionEstimator.predict';
    if (!(input instanceof tf.Tensor) || input.rank !== 4 || input.shape[3] !== 3) throw new ValidationError(fn, 'input', 'a [N, S, S, 3] tensor (from prepare)', input);
    checkFinite(fn, 'input', input); // core's non-finite policy
    return tf.tidy(() => {
      const out = this.network.forward(input); // [N, 6 + n]
      const mean = tf.tensor1d([...c.poseMean, ...c.expressionMean]);
      const std = tf.tensor1d([...c.poseStd, ...c.expressionStd]);
      return tf.add(tf.mul(out, std), mean) as tf.Tensor2D;
    });
  }

  /**
   * Pose (6) and expression (`expressionSize`) per frame; square RGB frames of any size ≥ S/2 (resized to S).
   * Never returns `null`: the network has no notion of "no face".
   *
   * @example
   * ```ts
   * const codes = await est.estimate(frames); // codes[i].pose: [6], codes[i].expression: [100]
   * ```
   */
  async estimate(frames: readonly Image[]): Promise<(PoseExpressionCodes | null)[]> {
    const fn = 'SyntheticPoseExpressionEstimator.estimate';
    if (Array.isArray(frames) && frames.length === 0) return [];
    const input = this.prepare(frames, fn); // validates every frame up front
    const out: PoseExpressionCodes[] = [];
    try {
      const n = this.expressionSize;
      for (let start = 0; start < frames.length; start += BATCH) {
        const count = Math.min(BATCH, frames.length - start);
        const codes = tf.tidy(() => this.predict(input.slice([start, 0, 0, 0], [count, -1, -1, -1])));
        const data = (await codes.data()) as Float32Array;
        codes.dispose();
        for (let i = 0; i < count; i++) {
          const row = data.subarray(i * (6 + n), (i + 1) * (6 + n));
          out.push({ pose: row.slice(0, 6), expression: row.slice(6) });
        }
      }
    } finally {
      input.dispose();
    }
    return out;
  }

  /** Free the weights (safe to call twice). @example `est.dispose();` */
  dispose(): void {
    this.net?.dispose();
    this.net = undefined;
  }
}

/**
 * Base path (without extension) of the weights shipped with this package, resolved from this module's location
 * (works from `src/` and `dist/`).
 *
 * @example
 * ```ts
 * console.log(embeddedPoseExpressionWeights()); // …/packages/metrics/weights/synthetic-pose-expression
 * ```
 */
export function embeddedPoseExpressionWeights(): string {
  return fileURLToPath(new URL('../weights/synthetic-pose-expression', import.meta.url));
}

/**
 * Load the embedded default estimator (the shipped weights, no download). Its `name` says what it is: a regressor
 * trained on synthetic-head renders; use it on synthetic-head frames (the embedded demo), not on real faces.
 *
 * @example
 * ```ts
 * const estimator = loadEmbeddedPoseExpressionEstimator();
 * const report = await evaluate(generated, real, { poseExpression: estimator });
 * estimator.dispose();
 * ```
 */
export function loadEmbeddedPoseExpressionEstimator(): SyntheticPoseExpressionEstimator {
  return SyntheticPoseExpressionEstimator.load(embeddedPoseExpressionWeights());
}
