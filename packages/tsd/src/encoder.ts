/**
 * The TSD encoder E (ConsistentAvatar §3.3): a ResNet-18-style network from a TSD image to one global code
 * (256-d, the paper's), used in f_c = [E(TSD_proxy), …] (stage 2) and f_d = [E(TSD'), …] (stage 3).
 *
 * Layout: torchvision's `resnet18` (`models/resnet.py`): conv1 7×7/2 → norm → ReLU → maxpool 3×3/2 → layer1..4 of
 * BasicBlocks (widths w, 2w, 4w, 8w; strides 1, 2, 2, 2; 1×1/2 `downsample` when the shape changes) → global
 * average pool → fc. Parameter names are torchvision's (`layer2.0.downsample.0.weight`, `fc.bias`), so PyTorch
 * weights of the same layout load with `loadStateDict(dict, { layout: 'torch' })`. Two changes, both
 * configurable and documented: the base width `w` is a parameter (torchvision fixes 64; the released
 * ConsistentAvatar / DiffusionRig encoder is resnet18 with w = 64), and the norms are GroupNorm(min(32, C), C)
 * rather than BatchNorm, because the paper trains with batch 4 (batch statistics over 4 images are noise) and
 * GroupNorm behaves the same in training and inference. With w = 64 the parameter count equals torchvision's
 * (GroupNorm and BatchNorm have the same affine parameters).
 *
 * Input: TSD `[B, H, W, C]` (NHWC) normalised to [−1, 1] (`normalizeTsd(tsd, '[-1,1]')`), any H, W ≥ 1.
 * Output: `[B, outDim]`.
 *
 * @packageDocumentation
 */
import { checkFinite, configField as f, nn, resolveConfig, Rng, tf, ValidationError, type ConfigSchema } from '@consistent-avatar/core';

/** Configuration of {@link TsdEncoder} (flat, JSON round-trip). */
export interface TsdEncoderConfig {
  /** Channels of the TSD image: 3 (rgb / release PNG) or 1 (luma). Default 3. */
  inChannels: number;
  /** Base width w (layer widths w, 2w, 4w, 8w). Default 64 (ResNet-18). */
  width: number;
  /** BasicBlocks per stage. Default [2, 2, 2, 2] (ResNet-18). */
  blocks: [number, number, number, number];
  /** Size of the global code. Default 256 (the paper's). */
  outDim: number;
  /** GroupNorm groups (capped at the channel count; must divide every stage width). Default 32. */
  normGroups: number;
  /** Seed of the initial weights. Default 0. */
  seed: number;
}

/**
 * Defaults: ResNet-18, 3 input channels, 256-d code.
 *
 * @example
 * ```ts
 * import { TSD_ENCODER_DEFAULTS } from '@consistent-avatar/tsd';
 * console.log(TSD_ENCODER_DEFAULTS.width, TSD_ENCODER_DEFAULTS.outDim); // 64 256
 * ```
 */
export const TSD_ENCODER_DEFAULTS: Readonly<TsdEncoderConfig> = Object.freeze({
  inChannels: 3,
  width: 64,
  blocks: [2, 2, 2, 2] as [number, number, number, number],
  outDim: 256,
  normGroups: 32,
  seed: 0,
});

const FN = 'TsdEncoder';

function groupNorm(groups: number, channels: number): nn.GroupNorm {
  return new nn.GroupNorm(Math.min(groups, channels), channels);
}

/** torchvision's kaiming_normal_(mode='fan_out', nonlinearity='relu') for a conv weight (HWIO). */
function kaimingConv(conv: nn.Conv2d, rng: Rng): void {
  const [kh, kw] = conv.kernelSize;
  const std = Math.sqrt(2 / (conv.outChannels * kh * kw));
  tf.tidy(() => {
    const oihw = nn.normalTensor(rng, [conv.outChannels, conv.inChannels / conv.groups, kh, kw], std);
    conv.weight.assign(tf.transpose(oihw, [2, 3, 1, 0])); // [kh, kw, in, out]
  });
}

function conv(inC: number, outC: number, kernel: number, stride: number, padding: number, rng: Rng): nn.Conv2d {
  const layer = new nn.Conv2d(inC, outC, kernel, { stride, padding, bias: false, rng });
  kaimingConv(layer, rng);
  return layer;
}

/** torchvision's BasicBlock: two 3×3 convs with norms, identity or 1×1 projection shortcut. */
class BasicBlock extends nn.Module {
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.GroupNorm;
  readonly conv2: nn.Conv2d;
  readonly bn2: nn.GroupNorm;
  readonly downsample: nn.ModuleList | null;

  constructor(inC: number, outC: number, stride: number, groups: number, rng: Rng) {
    super();
    this.conv1 = this.registerModule('conv1', conv(inC, outC, 3, stride, 1, rng.fork('conv1')));
    this.bn1 = this.registerModule('bn1', groupNorm(groups, outC));
    this.conv2 = this.registerModule('conv2', conv(outC, outC, 3, 1, 1, rng.fork('conv2')));
    this.bn2 = this.registerModule('bn2', groupNorm(groups, outC));
    this.downsample =
      stride !== 1 || inC !== outC
        ? this.registerModule('downsample', new nn.ModuleList([conv(inC, outC, 1, stride, 0, rng.fork('downsample')), groupNorm(groups, outC)]))
        : null;
  }

  forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.tidy(() => {
      const h = tf.relu(this.bn1.forward(this.conv1.forward(x)));
      const out = this.bn2.forward(this.conv2.forward(h));
      const shortcut = this.downsample
        ? (this.downsample.items[1] as nn.GroupNorm).forward((this.downsample.items[0] as nn.Conv2d).forward(x))
        : x;
      return tf.relu(tf.add(out, shortcut)) as tf.Tensor4D;
    });
  }
}

/** How each field is checked (core's config validator); unknown fields are rejected. */
const TSD_ENCODER_FIELDS: ConfigSchema<TsdEncoderConfig> = {
  inChannels: f.positiveInt(),
  width: f.positiveInt(),
  blocks: f.intArray({ min: 1, length: 4 }),
  outDim: f.positiveInt(),
  normGroups: f.positiveInt(),
  seed: f.integer(),
};

function resolveTsdEncoderConfig(partial: Partial<TsdEncoderConfig>): TsdEncoderConfig {
  const config = resolveConfig<TsdEncoderConfig>({ fn: FN, fields: TSD_ENCODER_FIELDS, defaults: TSD_ENCODER_DEFAULTS }, partial);
  for (const c of [1, 2, 4, 8].map((m) => m * config.width)) {
    if (c % Math.min(config.normGroups, c) !== 0) {
      throw new ValidationError(FN, 'config.normGroups', `a group count dividing every stage width (${c} is not divisible)`, config.normGroups);
    }
  }
  return config;
}

/**
 * The TSD encoder E: `[B, H, W, C]` TSD in [−1, 1] → `[B, outDim]` global code (see the module comment).
 * Call `dispose()` when done.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { TsdEncoder } from '@consistent-avatar/tsd';
 * const encoder = new TsdEncoder({ width: 16, seed: 1 });           // small; default width 64 = ResNet-18
 * const tsd = tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 3); // [B, H, W, C], normalised TSD
 * const code = encoder.forward(tsd as tf.Tensor4D);                // [2, 256]
 * console.log(code.shape, encoder.parameterCount());               // [ 2, 256 ] 735120
 * tf.dispose([tsd, code]);
 * encoder.dispose();
 * ```
 */
export class TsdEncoder extends nn.Module {
  readonly config: Readonly<TsdEncoderConfig>;
  readonly conv1: nn.Conv2d;
  readonly bn1: nn.GroupNorm;
  readonly stages: nn.ModuleList<BasicBlock>[];
  readonly fc: nn.Linear;

  constructor(config: Partial<TsdEncoderConfig> = {}) {
    super();
    const full = resolveTsdEncoderConfig(config);
    this.config = Object.freeze({ ...full, blocks: [...full.blocks] as TsdEncoderConfig['blocks'] });
    const rng = new Rng(full.seed);
    const w = full.width;
    // 1. Stem: conv 7×7 stride 2 → norm → ReLU (→ maxpool in forward).
    this.conv1 = this.registerModule('conv1', conv(full.inChannels, w, 7, 2, 3, rng.fork('conv1')));
    this.bn1 = this.registerModule('bn1', groupNorm(full.normGroups, w));
    // 2. Four stages of BasicBlocks: widths w, 2w, 4w, 8w; the first block of stages 2–4 has stride 2.
    this.stages = [];
    let inC = w;
    for (let s = 0; s < 4; s++) {
      const outC = w * 2 ** s;
      const blocks: BasicBlock[] = [];
      for (let b = 0; b < full.blocks[s]!; b++) {
        blocks.push(new BasicBlock(inC, outC, b === 0 && s > 0 ? 2 : 1, full.normGroups, rng.fork(`layer${s + 1}.${b}`)));
        inC = outC;
      }
      this.stages.push(this.registerModule(`layer${s + 1}`, new nn.ModuleList(blocks)));
    }
    // 3. Head: global average pool → fc (8w → outDim), PyTorch's default Linear init.
    this.fc = this.registerModule('fc', new nn.Linear(8 * w, full.outDim, { rng: rng.fork('fc') }));
  }

  /**
   * Encode TSD images.
   *
   * @param tsd - `[B, H, W, inChannels]` float32, normalised to [−1, 1]; NaN / ±Infinity are refused with a
   *   `ValidationError` (core's non-finite policy).
   * @returns `[B, outDim]`.
   */
  forward(tsd: tf.Tensor4D): tf.Tensor2D {
    if (!(tsd instanceof tf.Tensor) || tsd.rank !== 4 || tsd.shape[3] !== this.config.inChannels) {
      throw new ValidationError(`${FN}.forward`, 'tsd', `a tensor [B, H, W, ${this.config.inChannels}] (NHWC)`, tsd);
    }
    checkFinite(`${FN}.forward`, 'tsd', tsd); // a NaN pixel would make the whole code NaN (GroupNorm mixes positions)
    return tf.tidy(() => {
      let x = tf.relu(this.bn1.forward(this.conv1.forward(tsd))); // [B, H/2, W/2, w]
      // PyTorch MaxPool2d(3, 2, padding 1); padding never wins the max because x ≥ 0 after the ReLU.
      x = tf.maxPool(x, 3, 2, 1); // [B, H/4, W/4, w]
      for (const stage of this.stages) for (const block of stage.items) x = block.forward(x); // [B, H/32, W/32, 8w]
      const pooled = tf.mean(x, [1, 2]); // [B, 8w]
      return this.fc.forward(pooled) as tf.Tensor2D; // [B, outDim]
    });
  }

  /**
   * The config as plain JSON (`new TsdEncoder(JSON.parse(JSON.stringify(e.toJSON())))` rebuilds the same network).
   *
   * @example
   * ```ts
   * import { TsdEncoder } from '@consistent-avatar/tsd';
   * const e = new TsdEncoder({ width: 8 });
   * console.log(JSON.stringify(e.toJSON())); // {"inChannels":3,"width":8,"blocks":[2,2,2,2],"outDim":256,"normGroups":32,"seed":0}
   * e.dispose();
   * ```
   */
  toJSON(): TsdEncoderConfig {
    return { ...this.config, blocks: [...this.config.blocks] as TsdEncoderConfig['blocks'] };
  }
}
