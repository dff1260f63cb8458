/**
 * A UNet run by ONNX Runtime (native MLAS kernels, intra-op threads) instead of tfjs: the graph of
 * {@link exportUNetOnnx} in a session, behind the tfjs UNet's `forward(sample, timestep, encoderHiddenStates,
 * options)` signature (NHWC in and out, ControlNet residuals and IP-Adapter tokens as the same per-call options), so
 * `unetDenoiser(ortUnet)` and every sampler use it unchanged. It also lifts the 4 GiB wasm-heap limit: only the
 * latents cross into tfjs, the weights live in ONNX Runtime (loaded from a file with external data for SD 1.5).
 *
 * The weights are copied at construction: later changes to the tfjs UNet do not reach the session. `dispose()`
 * releases the native session. Needs the optional dependency `onnxruntime-node` (throws
 * `BackendUnavailableError` saying why when it cannot load).
 *
 * @example
 * ```ts
 * import { DDIMScheduler, OrtUNet, sample, unetDenoiser } from '@consistent-avatar/diffusion';
 * const native = new OrtUNet(unet, { intraOpThreads: 2 });
 * const eps = native.forward(latents, 999, text);                                  // [B, H, W, 4], as unet.forward
 * const x0 = sample({ denoiser: unetDenoiser(native), conditions: { text }, scheduler: new DDIMScheduler(), numInferenceSteps: 20, shape: [1, 64, 64, 4] });
 * native.dispose();
 * ```
 */
import { checkFinite, tf, ValidationError, type OrtFloatTensor, type OrtSyncSession } from '@consistent-avatar/core';
import { nhwcToOrt, openOrtSession, ortTimesteps, ortToNhwc, requireOrt, type OrtSessionPlacement } from './ort-io.js';
import { isTextAndImageTokens, type EncoderHiddenStates } from './attention-processors.js';
import type { UNet2DConditionConfig, UNet2DConditionModel, UNetForwardOptions } from './unet-2d-condition.js';
import { exportUNetOnnx, type UNetOnnxOptions } from './unet-onnx.js';

/** Options of {@link OrtUNet}. */
export interface OrtUNetOptions extends UNetOnnxOptions, OrtSessionPlacement {}

const FN = 'OrtUNet';

/**
 * The session runner.
 * @example
 * ```ts
 * const native = new OrtUNet(unet, { controlnet: true });
 * native.forward(latents, 500, text, { downBlockAdditionalResiduals: down, midBlockAdditionalResidual: mid });
 * ```
 */
export class OrtUNet {
  /** The exported UNet's config (read by samplers, e.g. `time_cond_proj_dim`). */
  readonly config: UNet2DConditionConfig;
  /** Number of skips (= ControlNet residuals expected). */
  readonly numSkips: number;
  /** Whether the graph takes ControlNet residuals / IP-Adapter tokens. */
  readonly controlnet: boolean;
  readonly numIpAdapters: number;
  private readonly ipAdapterScale: number[];
  private readonly skipChannels: number[];
  private session: OrtSyncSession | null;

  /**
   * Export `unet` and load the graph into a session.
   * @param unet - the tfjs UNet (not owned; its weights are copied now).
   * @throws `ValidationError` for bad options or a UNet the exporter cannot express; `BackendUnavailableError`
   *   when onnxruntime-node is absent or cannot load.
   */
  constructor(unet: UNet2DConditionModel, options: OrtUNetOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new ValidationError(FN, 'options', 'an options object', options);
    requireOrt(FN);
    const exported = exportUNetOnnx(unet, options);
    this.config = unet.config;
    this.numSkips = unet.numSkips;
    this.controlnet = exported.numDownResiduals > 0;
    this.numIpAdapters = exported.numIpAdapters;
    this.ipAdapterScale = exported.ipAdapterScale;
    this.skipChannels = exported.skipChannels;
    this.session = openOrtSession(FN, exported.graph.spec('unet'), options);
  }

  private checkMap(arg: string, x: unknown, batch: number): asserts x is tf.Tensor4D {
    if (!(x instanceof tf.Tensor) || x.rank !== 4 || x.shape[0] !== batch) throw new ValidationError(`${FN}.forward`, arg, `[${batch}, H, W, C] (NHWC)`, x);
  }

  /**
   * Predict as the tfjs UNet does, through the session.
   * @param sample - `[B, H, W, in_channels]` (NHWC).
   * @param timestep - a number (broadcast), `[B]` numbers, or a tensor `[]` / `[1]` / `[B]`.
   * @param encoderHiddenStates - `[B, L, cross_attention_dim]`, or `{ text, ipTokens }` for a graph exported with
   *   IP-Adapter inputs.
   * @param options - `downBlockAdditionalResiduals` / `midBlockAdditionalResidual` (graph exported with
   *   `controlnet`; either omitted adds zeros), `crossAttentionKwargs.scale` (IP-Adapter scale), `timestepCond` (LCM). `conditions` are
   *   accepted and ignored (the exported processors read none); `imageEmbeds` is refused (project them with the
   *   tfjs UNet's `encoderHidProj` and pass `ipTokens`).
   * @returns `[B, H, W, out_channels]` (NHWC), owned by the caller.
   */
  forward(sample: tf.Tensor4D, timestep: number | number[] | tf.Tensor, encoderHiddenStates: EncoderHiddenStates, options: UNetForwardOptions = {}): tf.Tensor4D {
    const F = `${FN}.forward`;
    if (!this.session) throw new ValidationError(F, 'this', 'an OrtUNet that is not disposed', 'disposed');
    const c = this.config;
    if (!(sample instanceof tf.Tensor) || sample.rank !== 4 || sample.shape[3] !== c.in_channels) throw new ValidationError(F, 'sample', `[B, H, W, ${c.in_channels}] (NHWC)`, sample);
    const [B, H, W] = sample.shape;
    const textAndIp = isTextAndImageTokens(encoderHiddenStates);
    const text = textAndIp ? encoderHiddenStates.text : encoderHiddenStates;
    if (!(text instanceof tf.Tensor) || text.rank !== 3 || text.shape[0] !== B || text.shape[2] !== c.cross_attention_dim) {
      throw new ValidationError(F, 'encoderHiddenStates', `[${B}, L, ${c.cross_attention_dim}] (or { text, ipTokens })`, text);
    }
    if (options.imageEmbeds) throw new ValidationError(F, 'options.imageEmbeds', 'nothing: pass the projected tokens as { text, ipTokens }', options.imageEmbeds);
    const ipTokens = textAndIp ? encoderHiddenStates.ipTokens : [];
    if (ipTokens.length !== this.numIpAdapters) {
      throw new ValidationError(F, 'encoderHiddenStates.ipTokens', `${this.numIpAdapters} token tensor(s) (the graph's IP-Adapter inputs)`, ipTokens);
    }
    const inputs: Record<string, OrtFloatTensor> = {};
    inputs.sample = nhwcToOrt(sample);
    inputs.timestep = { dims: [B], data: ortTimesteps(F, timestep, B) };
    inputs.encoder_hidden_states = { dims: [...text.shape], data: text.dataSync() as Float32Array };
    if (c.time_cond_proj_dim) {
      const cond = options.timestepCond;
      if (!(cond instanceof tf.Tensor) || cond.rank !== 2 || cond.shape[0] !== B || cond.shape[1] !== c.time_cond_proj_dim) {
        throw new ValidationError(F, 'options.timestepCond', `[${B}, ${c.time_cond_proj_dim}] (the graph has a timestep_cond input)`, cond);
      }
      inputs.timestep_cond = { dims: [...cond.shape], data: cond.dataSync() as Float32Array };
    } else if (options.timestepCond) throw new ValidationError(F, 'options.timestepCond', 'nothing: config.time_cond_proj_dim is null', options.timestepCond);
    const down = options.downBlockAdditionalResiduals ?? null;
    const mid = options.midBlockAdditionalResidual ?? null;
    if (!this.controlnet && (down || mid)) throw new ValidationError(F, 'options.downBlockAdditionalResiduals', 'nothing (export with controlnet: true for residuals)', down ?? mid);
    if (this.controlnet) {
      if (down !== null && (!Array.isArray(down) || down.length !== this.numSkips)) throw new ValidationError(F, 'options.downBlockAdditionalResiduals', `${this.numSkips} NHWC tensors`, down);
      // A call without residuals (a step outside the ControlNet's guidance range) adds zeros, broadcast over H, W.
      const zeros = (channels: number) => ({ dims: [B, channels, 1, 1], data: new Float32Array(B * channels) });
      this.skipChannels.forEach((channels, k) => {
        if (down) this.checkMap(`options.downBlockAdditionalResiduals[${k}]`, down[k], B);
        inputs[`down_block_additional_residual_${k}`] = down ? nhwcToOrt(down[k] as tf.Tensor4D) : zeros(channels);
      });
      if (mid) this.checkMap('options.midBlockAdditionalResidual', mid, B);
      inputs.mid_block_additional_residual = mid ? nhwcToOrt(mid as tf.Tensor4D) : zeros(c.block_out_channels.at(-1)!);
    }
    if (this.numIpAdapters) {
      ipTokens.forEach((t, i) => {
        if (!(t instanceof tf.Tensor) || t.rank !== 3 || t.shape[0] !== B) throw new ValidationError(F, `encoderHiddenStates.ipTokens[${i}]`, `[${B}, N, D]`, t);
        inputs[`ip_tokens_${i}`] = { dims: [...t.shape], data: t.dataSync() as Float32Array };
      });
      const s = options.crossAttentionKwargs?.scale ?? this.ipAdapterScale;
      const scales = typeof s === 'number' ? new Array<number>(this.numIpAdapters).fill(s) : s;
      if (!Array.isArray(scales) || scales.length !== this.numIpAdapters) throw new ValidationError(F, 'options.crossAttentionKwargs.scale', `a number or ${this.numIpAdapters} numbers`, s);
      checkFinite(F, 'options.crossAttentionKwargs.scale', scales);
      inputs.ip_adapter_scale = { dims: [this.numIpAdapters], data: Float32Array.from(scales) };
    }
    const out = new Float32Array(B * c.out_channels * H * W);
    this.session.run(inputs, { out_sample: { dims: [B, c.out_channels, H, W], data: out } });
    return ortToNhwc(out, [B, c.out_channels, H, W]);
  }

  /** Release the native session (idempotent); `forward` throws afterwards. */
  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}
