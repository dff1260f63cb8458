/**
 * Several ControlNets on one UNet (diffusers `MultiControlNetModel`): each runs on its own conditioning image and
 * scale, and their residuals are summed skip by skip.
 *
 * @example
 * ```ts
 * import { tf } from '@consistent-avatar/core';
 * import { ControlNetModel, MultiControlNet, UNet2DConditionModel } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * const normals = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 32] });
 * const tsd = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [16, 32] });
 * const multi = new MultiControlNet([normals, tsd]);
 * const cond = tf.zeros([1, 32, 32, 3]) as tf.Tensor4D;
 * const out = multi.forward(tf.zeros([1, 16, 16, 4]) as tf.Tensor4D, 500, tf.zeros([1, 7, 32]), [cond, cond], { conditioningScale: [1, 0.5] });
 * ```
 */
import { tf, ValidationError } from '@consistent-avatar/core';
import type { EncoderHiddenStates } from '../models/attention-processors.js';
import type { Conditions } from '../models/conditions.js';
import { ControlNetModel, type ControlNetOutput } from './controlnet-model.js';

/** Call-time options of {@link MultiControlNet.forward}. */
export interface MultiControlNetForwardOptions {
  /** One scale per ControlNet, or one for all. Default 1. */
  conditioningScale?: number | number[];
  /** Guess mode for every ControlNet. */
  guessMode?: boolean;
  /** Named per-call conditions handed to every ControlNet's attention processors. */
  conditions?: Conditions;
}

/**
 * A list of ControlNets whose residuals add up. Does not own the nets (dispose them yourself).
 * @example
 * ```ts
 * const multi = new MultiControlNet([normalNet, tsdNet]);
 * const { downBlockResSamples, midBlockResSample } = multi.forward(latents, t, text, [normals, tsd], { conditioningScale: [1, 0.6] });
 * ```
 */
export class MultiControlNet {
  readonly nets: ControlNetModel[];
  /** @param nets - at least one ControlNet; all must produce the same residual layout. */
  constructor(nets: ControlNetModel[]) {
    if (!Array.isArray(nets) || nets.length === 0 || nets.some((n) => !(n instanceof ControlNetModel))) {
      throw new ValidationError('MultiControlNet', 'nets', 'a non-empty array of ControlNetModel', nets);
    }
    const skips = nets[0]!.numSkips;
    if (nets.some((n) => n.numSkips !== skips)) throw new ValidationError('MultiControlNet', 'nets', `ControlNets with the same number of skips (${skips})`, nets.map((n) => n.numSkips));
    this.nets = nets;
  }

  /** Scale per net from a number or a list. */
  scales(conditioningScale: number | number[] | undefined, fn: string): number[] {
    const s = conditioningScale ?? 1;
    const list = Array.isArray(s) ? s : this.nets.map(() => s);
    if (list.length !== this.nets.length || list.some((v) => typeof v !== 'number' || !Number.isFinite(v))) {
      throw new ValidationError(fn, 'options.conditioningScale', `a number or ${this.nets.length} numbers`, conditioningScale);
    }
    return list;
  }

  /**
   * Sum of every ControlNet's residuals.
   * @param controlnetCond - one conditioning image per net (`[B, H·f, W·f, C_k]`, values in [0, 1]).
   */
  forward(sample: tf.Tensor4D, timestep: number | number[] | tf.Tensor, encoderHiddenStates: EncoderHiddenStates, controlnetCond: tf.Tensor4D[], options: MultiControlNetForwardOptions = {}): ControlNetOutput {
    const fn = 'MultiControlNet.forward';
    if (!Array.isArray(controlnetCond) || controlnetCond.length !== this.nets.length) {
      throw new ValidationError(fn, 'controlnetCond', `${this.nets.length} conditioning images (one per ControlNet)`, controlnetCond);
    }
    const scales = this.scales(options.conditioningScale, fn);
    return tf.tidy(() => {
      const outs = this.nets.map((net, i) => net.forward(sample, timestep, encoderHiddenStates, controlnetCond[i]!, { conditioningScale: scales[i], guessMode: options.guessMode, conditions: options.conditions }));
      const downBlockResSamples = outs[0]!.downBlockResSamples.map((_, k) => tf.addN(outs.map((o) => o.downBlockResSamples[k]!)) as tf.Tensor4D);
      const midBlockResSample = tf.addN(outs.map((o) => o.midBlockResSample)) as tf.Tensor4D;
      return { downBlockResSamples, midBlockResSample };
    });
  }
}
