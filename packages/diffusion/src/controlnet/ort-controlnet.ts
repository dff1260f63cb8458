/**
 * A ControlNet run by ONNX Runtime: the graph of {@link exportControlNetOnnx} in a session behind
 * {@link ControlNetModel.forward}'s signature (NHWC in and out, `conditioningScale`, `guessMode`), so
 * `withControlNet({ controlnet: ortControlNet })` and the sampler use it unchanged. Weights are copied at construction;
 * `dispose()` releases the session. Needs the optional `onnxruntime-node`.
 *
 * @example
 * ```ts
 * import { OrtControlNet, OrtUNet } from '@consistent-avatar/diffusion';
 * const cn = new OrtControlNet(controlnet), native = new OrtUNet(unet, { controlnet: true });
 * const r = cn.forward(latents, 500, text, normals, { conditioningScale: 0.8 });
 * const eps = native.forward(latents, 500, text, { downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample });
 * tf.dispose([...r.downBlockResSamples, r.midBlockResSample]); cn.dispose(); native.dispose();
 * ```
 */
import { tf, ValidationError, type OrtFloatTensor, type OrtSyncSession } from '@consistent-avatar/core';
import { nhwcToOrt, openOrtSession, ortTimesteps, ortToNhwc, requireOrt, type OrtSessionPlacement } from '../models/ort-io.js';
import { guessModeScales, type ControlNetConfig, type ControlNetForwardOptions, type ControlNetModel, type ControlNetOutput } from './controlnet-model.js';
import { exportControlNetOnnx } from './controlnet-onnx.js';

const FN = 'OrtControlNet';

/**
 * The session runner.
 * @example
 * ```ts
 * const cn = new OrtControlNet(controlnet, { intraOpThreads: 2 });
 * ```
 */
export class OrtControlNet {
  readonly config: ControlNetConfig;
  /** Spatial ratio between the conditioning image and the latents. */
  readonly downsamplingFactor: number;
  /** Number of down residuals (= the UNet's skips). */
  readonly numSkips: number;
  private readonly residualChannels: number[];
  /** Per down block: ResNets and whether it downsamples (gives the residuals' sizes). */
  private readonly blocks: Array<{ layers: number; downsample: boolean }>;
  private session: OrtSyncSession | null;

  /**
   * Export `controlnet` and load the graph.
   * @param controlnet - the tfjs ControlNet (not owned; its weights are copied now).
   * @throws `ValidationError` for bad options; `BackendUnavailableError` when onnxruntime-node cannot load.
   */
  constructor(controlnet: ControlNetModel, options: OrtSessionPlacement = {}) {
    if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', 'an options object', options);
    requireOrt(FN);
    const exported = exportControlNetOnnx(controlnet);
    this.config = controlnet.config;
    this.downsamplingFactor = controlnet.downsamplingFactor;
    this.numSkips = controlnet.numSkips;
    this.residualChannels = exported.residualChannels;
    this.blocks = controlnet.down_blocks.items.map((b) => ({ layers: b.resnets.length, downsample: b.downsamplers !== null }));
    this.session = openOrtSession(FN, exported.graph.spec('controlnet'), options);
  }

  /**
   * Compute the residuals as {@link ControlNetModel.forward} does (`conditions` are accepted and ignored: the exported
   * processors read none).
   * @param sample - `[B, h, w, in_channels]` (NHWC).
   * @param controlnetCond - `[B, h·f, w·f, conditioning_channels]` in [0, 1].
   * @returns NHWC residuals, owned by the caller.
   */
  forward(sample: tf.Tensor4D, timestep: number | number[] | tf.Tensor, encoderHiddenStates: tf.Tensor, controlnetCond: tf.Tensor4D, options: ControlNetForwardOptions = {}): ControlNetOutput {
    const F = `${FN}.forward`;
    if (!this.session) throw new ValidationError(F, 'this', 'an OrtControlNet that is not disposed', 'disposed');
    const c = this.config;
    if (!(sample instanceof tf.Tensor) || sample.rank !== 4 || sample.shape[3] !== c.in_channels) throw new ValidationError(F, 'sample', `[B, H, W, ${c.in_channels}] (NHWC)`, sample);
    const [B, H, W] = sample.shape;
    const f = this.downsamplingFactor;
    if (!(controlnetCond instanceof tf.Tensor) || controlnetCond.rank !== 4 || controlnetCond.shape[0] !== B || controlnetCond.shape[1] !== H * f || controlnetCond.shape[2] !== W * f || controlnetCond.shape[3] !== c.conditioning_channels) {
      throw new ValidationError(F, 'controlnetCond', `[${B}, ${H * f}, ${W * f}, ${c.conditioning_channels}] (NHWC, values in [0, 1])`, controlnetCond);
    }
    if (!(encoderHiddenStates instanceof tf.Tensor) || encoderHiddenStates.rank !== 3 || encoderHiddenStates.shape[0] !== B || encoderHiddenStates.shape[2] !== c.cross_attention_dim) {
      throw new ValidationError(F, 'encoderHiddenStates', `[${B}, L, ${c.cross_attention_dim}]`, encoderHiddenStates);
    }
    const scale = options.conditioningScale ?? 1;
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new ValidationError(F, 'options.conditioningScale', 'a finite number', scale);
    const n = this.numSkips + 1;
    const scales = options.guessMode && !c.global_pool_conditions ? guessModeScales(n, scale) : new Array<number>(n).fill(scale);
    const inputs: Record<string, OrtFloatTensor> = {
      sample: nhwcToOrt(sample),
      timestep: { dims: [B], data: ortTimesteps(F, timestep, B) },
      encoder_hidden_states: { dims: [...encoderHiddenStates.shape], data: encoderHiddenStates.dataSync() as Float32Array },
      controlnet_cond: nhwcToOrt(controlnetCond),
      conditioning_scale: { dims: [n], data: Float32Array.from(scales) },
    };
    // Residual sizes: each stride-2 downsampler maps s → ⌈s/2⌉ (3×3, padding 1), as the skips it produces.
    const dims: number[][] = [];
    let [h, w] = [H, W];
    dims.push([B, this.residualChannels[0]!, h, w]);
    for (const block of this.blocks) {
      for (let j = 0; j < block.layers; j++) dims.push([B, this.residualChannels[dims.length]!, h, w]);
      if (block.downsample) {
        [h, w] = [Math.ceil(h / 2), Math.ceil(w / 2)];
        dims.push([B, this.residualChannels[dims.length]!, h, w]);
      }
    }
    const outputs: Record<string, OrtFloatTensor> = {};
    dims.forEach((d, k) => (outputs[`down_block_res_sample_${k}`] = { dims: d, data: new Float32Array(d.reduce((p, q) => p * q, 1)) }));
    const midDims = [B, c.block_out_channels.at(-1)!, h, w];
    outputs.mid_block_res_sample = { dims: midDims, data: new Float32Array(midDims.reduce((p, q) => p * q, 1)) };
    this.session.run(inputs, outputs);
    return {
      downBlockResSamples: dims.map((d, k) => ortToNhwc(outputs[`down_block_res_sample_${k}`]!.data, d)),
      midBlockResSample: ortToNhwc(outputs.mid_block_res_sample!.data, midDims),
    };
  }

  /** Release the native session (idempotent); `forward` throws afterwards. */
  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
