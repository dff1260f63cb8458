/**
 * Configuration of the stage-2 TSDM (ConsistentAvatar §3.2): one flat, JSON-round-trip record for the data
 * (TSD map size, filter radius, normalisation scale), the networks (UNet, TSD encoder E, condition tokens), the
 * noise schedule and the optimiser. Defaults are sized for a 2-core CPU (wasm backend); the paper's values are
 * given in each field's doc.
 *
 * @packageDocumentation
 */
import { configField as f, resolveConfig, ValidationError, type ConfigSchema } from '@consistent-avatar/core';

/**
 * Flat configuration of {@link TsdmModel} and {@link trainTsdm}.
 * @example
 * ```ts
 * const config: Partial<TsdmConfig> = { size: 32, iterations: 800, target: 'tsd' };
 * ```
 */
export interface TsdmConfig {
  /** Side of the square TSD maps the model generates (pixel space). Default 32. Paper: 512 (latent 64²). */
  size: number;
  /** Gaussian high-pass radius ω in frequency bins at `size` (the `'paper'` preset with this radius). Default 4; the paper's ω = 10 is for 512² frames. */
  tsdRadius: number;
  /** Fixed normalisation scale: TSD values in [−scale, scale] map to [−1, 1] (`normalizeTsd` `mode: 'fixed'`). Default 0.25. */
  tsdScale: number;
  /**
   * What the diffusion generates. `'residual'` (default, our variant for small CPU models): x_0 =
   * (TSD − TSD_proxy) / `residualScale`, and the aligned TSD is TSD_proxy + residualScale·x̂_0 — the network only
   * generates the correction of the proxy's TSD. `'tsd'` (the paper's): x_0 is the normalised TSD itself.
   */
  target: 'tsd' | 'residual';
  /**
   * Also feed the proxy's TSD spatially: the UNet input is concat[x_t, TSD_proxy] (6 channels, `in_channels` 6), as
   * diffusers' inpainting / InstructPix2Pix UNets take their image condition. Default true (our variant: the global
   * tokens of Eq. 4 say *what* the expression is, the concatenated map says *where* the face's details are).
   * `false` is the paper's conditioning (tokens only).
   */
  proxyConcat: boolean;
  /**
   * Half-width K of the temporal window of conditions: frame t is conditioned on the proxy TSD, P and E of frames
   * t−K … t+K of its sequence (clamped at the sequence ends) — the window's proxy TSDs concatenated to the UNet input
   * (with `proxyConcat`, `in_channels` 3 + 3·(2K+1)) and its P / E concatenated before the token linears
   * (Linear(P_{t−K..t+K}), Linear(E_{t−K..t+K})); E(TSD_proxy) stays the frame's own. Default 1 (our variant: a
   * monocular tracker's P and E are noisy and lag the face, and the neighbours can tell the model how to undo that;
   * under the evaluation protocol validation chose K = 1 over 0 in every run, but no test-time gain in the
   * frame-to-frame change over the proxy's was measured — see the package README). 0 is the paper's per-frame
   * conditioning.
   */
  temporalWindow: number;
  /**
   * What the UNet predicts (diffusers' `prediction_type`): `'epsilon'` (the paper's Eq. 6, ‖ε̂ − ε‖²) or `'sample'`
   * (x̂_0 directly, loss ‖x̂_0 − x_0‖², the same scheduler arithmetic in `'sample'` mode). Default `'sample'` (our
   * variant: chosen on validation in every run of the protocol evaluation; see the package README).
   * `'epsilon'` is the paper's.
   */
  predictionType: 'epsilon' | 'sample';
  /** Scale of the residual target (normalised TSD units mapped to ±1; 0.25 keeps 99 % of the synthetic data's residuals inside ±1). Default 0.25. */
  residualScale: number;
  /** UNet `block_out_channels`. Default [16, 32]. Paper: SD 1.5 [320, 640, 1280, 1280]. */
  unetChannels: number[];
  /** UNet `layers_per_block`. Default 1. */
  layersPerBlock: number;
  /** UNet GroupNorm groups. Default 8. */
  normGroups: number;
  /** Attention heads (diffusers' `attention_head_dim`, a head count for this UNet). Default 4. */
  attentionHeads: number;
  /**
   * Size of each condition token of f_c ∈ R^{3×tokenDim}; also the UNet's `cross_attention_dim` (its only text
   * token is one learned null token, so a separate text size buys nothing here). Default 256 (the paper's).
   */
  tokenDim: number;
  /** Pose size (paper pose P = [global rotation, jaw], axis-angle). Default 6. */
  poseDim: number;
  /** Expression size (FLAME ψ). Default 100. */
  expressionDim: number;
  /** Base width of the TSD encoder E (ResNet-18 layout). Default 8. Paper: 64. */
  encoderWidth: number;
  /** BasicBlocks per encoder stage. Default [1, 1, 1, 1]. Paper: [2, 2, 2, 2] (ResNet-18). */
  encoderBlocks: [number, number, number, number];
  /** Scale λ of the IP-Adapter image branch. Default 1. */
  ipScale: number;
  /** Diffusion steps T of the forward process (linear betas). Default 1000. */
  numTrainTimesteps: number;
  /** First beta. Default 1e-4. */
  betaStart: number;
  /** Last beta. Default 0.02. */
  betaEnd: number;
  /** AdamW learning rate. Default 5e-4 (a small network from scratch). Paper: Adam 1e-5 (fine-tuning a pretrained SD UNet). */
  lr: number;
  /** AdamW decoupled weight decay. Default 0. */
  weightDecay: number;
  /** Clip the global gradient norm (0 = off). Default 1. */
  maxGradNorm: number;
  /** Frames per step. Default 4 (the paper's). */
  batchSize: number;
  /** Optimiser steps. Default 800 (~0.5 s per step on a quiet 2-core CPU, wasm: ~7 min). Paper: 3000. */
  iterations: number;
  /** Seed of the initial weights and of the training draws (batches, timesteps, noise). Default 0. */
  seed: number;
  /** Checkpoint period in steps (with `checkpointDir`). Default 100. */
  checkpointEvery: number;
  /** Progress / loss-log period in steps. Default 10. */
  logEvery: number;
}

/**
 * Defaults (CPU-sized; see each field of {@link TsdmConfig} for the paper's values).
 * @example
 * ```ts
 * import { TSDM_DEFAULTS } from '@consistent-avatar/tsd';
 * console.log(TSDM_DEFAULTS.size, TSDM_DEFAULTS.tokenDim, TSDM_DEFAULTS.iterations); // 32 256 800
 * ```
 */
export const TSDM_DEFAULTS: Readonly<TsdmConfig> = Object.freeze({
  size: 32,
  tsdRadius: 4,
  tsdScale: 0.25,
  target: 'residual' as 'tsd' | 'residual',
  residualScale: 0.25,
  proxyConcat: true,
  temporalWindow: 1,
  predictionType: 'sample' as 'epsilon' | 'sample',
  unetChannels: [16, 32],
  layersPerBlock: 1,
  normGroups: 8,
  attentionHeads: 4,
  tokenDim: 256,
  poseDim: 6,
  expressionDim: 100,
  encoderWidth: 8,
  encoderBlocks: [1, 1, 1, 1] as [number, number, number, number],
  ipScale: 1,
  numTrainTimesteps: 1000,
  betaStart: 1e-4,
  betaEnd: 0.02,
  lr: 5e-4,
  weightDecay: 0,
  maxGradNorm: 1,
  batchSize: 4,
  iterations: 800,
  seed: 0,
  checkpointEvery: 100,
  logEvery: 10,
});

/**
 * The paper's training values (§4.1: Adam, lr 1e-5, batch 4, 3000 iterations) on top of the CPU defaults.
 * @example
 * ```ts
 * import { TSDM_PAPER_TRAINING, resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const cfg = resolveTsdmConfig({ ...TSDM_PAPER_TRAINING, size: 64 });
 * ```
 */
export const TSDM_PAPER_TRAINING: Readonly<Partial<TsdmConfig>> = Object.freeze({ lr: 1e-5, batchSize: 4, iterations: 3000 });

/**
 * The paper's TSDM formulation on top of the CPU defaults: generate the TSD itself (`target: 'tsd'`), predict ε
 * (Eq. 6) and condition through the three f_c tokens only (no concatenated proxy map) of the frame alone (no temporal window). Combine with
 * {@link TSDM_PAPER_TRAINING} for the paper's optimiser settings.
 * @example
 * ```ts
 * import { TSDM_PAPER_CONDITIONING, TSDM_PAPER_TRAINING, resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const paper = resolveTsdmConfig({ ...TSDM_PAPER_CONDITIONING, ...TSDM_PAPER_TRAINING });
 * ```
 */
export const TSDM_PAPER_CONDITIONING: Readonly<Partial<TsdmConfig>> = Object.freeze({ target: 'tsd', predictionType: 'epsilon', proxyConcat: false, temporalWindow: 0 });

const FN = 'resolveTsdmConfig';

/** How each field is checked (core's config validator); cross-field rules are in {@link resolveTsdmConfig}. */
const TSDM_FIELDS: ConfigSchema<TsdmConfig> = {
  size: f.positiveInt(),
  tsdRadius: f.positiveNumber(),
  tsdScale: f.positiveNumber(),
  target: f.oneOf(['tsd', 'residual']),
  proxyConcat: f.boolean(),
  temporalWindow: f.nonNegativeInt(),
  predictionType: f.oneOf(['epsilon', 'sample']),
  residualScale: f.positiveNumber(),
  unetChannels: f.intArray({ min: 1, minLength: 1 }),
  layersPerBlock: f.positiveInt(),
  normGroups: f.positiveInt(),
  attentionHeads: f.positiveInt(),
  tokenDim: f.positiveInt(),
  poseDim: f.positiveInt(),
  expressionDim: f.positiveInt(),
  encoderWidth: f.positiveInt(),
  encoderBlocks: f.intArray({ min: 1, length: 4 }),
  ipScale: f.number({ min: 0 }),
  numTrainTimesteps: f.positiveInt(),
  betaStart: f.positiveNumber(),
  betaEnd: f.positiveNumber(),
  lr: f.positiveNumber(),
  weightDecay: f.number({ min: 0 }),
  maxGradNorm: f.number({ min: 0 }),
  batchSize: f.positiveInt(),
  iterations: f.nonNegativeInt(),
  seed: f.nonNegativeInt(),
  checkpointEvery: f.positiveInt(),
  logEvery: f.positiveInt(),
};

/**
 * Fill missing fields with {@link TSDM_DEFAULTS} and validate every field.
 *
 * @throws ValidationError naming the bad field (unknown fields too).
 * @example
 * ```ts
 * import { resolveTsdmConfig } from '@consistent-avatar/tsd';
 * const cfg = resolveTsdmConfig({ iterations: 50 });
 * const again = resolveTsdmConfig(JSON.parse(JSON.stringify(cfg))); // JSON round-trip
 * resolveTsdmConfig({ batchSize: 0 }); // throws ValidationError: resolveTsdmConfig: argument 'config.batchSize' expected a positive integer, got 0
 * ```
 */
export function resolveTsdmConfig(partial: Partial<TsdmConfig> = {}): TsdmConfig {
  const c = resolveConfig<TsdmConfig>({ fn: FN, fields: TSDM_FIELDS, defaults: TSDM_DEFAULTS }, partial);
  if (!(c.betaEnd > c.betaStart && c.betaEnd < 1)) throw new ValidationError(FN, 'config.betaEnd', `a number in (betaStart = ${c.betaStart}, 1)`, c.betaEnd);
  if (c.unetChannels.some((v) => v % c.normGroups !== 0)) {
    throw new ValidationError(FN, 'config.unetChannels', `a non-empty list of positive multiples of normGroups (${c.normGroups})`, c.unetChannels);
  }
  const down = 2 ** (c.unetChannels.length - 1);
  if (c.size % down !== 0) throw new ValidationError(FN, 'config.size', `a multiple of ${down} (the UNet downsamples ${c.unetChannels.length - 1} times)`, c.size);
  if (c.unetChannels.some((v) => v % c.attentionHeads !== 0)) throw new ValidationError(FN, 'config.attentionHeads', 'a divisor of every unetChannels entry', c.attentionHeads);
  return c;
}
