/**
 * The ablation's JSON config (what `ca ablate --config FILE` reads) and its presets: one flat record for the
 * identities, the synthetic data and the method, with the stage sections (`proxy`, `tsdm`, `fcsd`) validated by their
 * own resolvers so an error names the field (`config.fcsd.controlIterations`).
 *
 * Presets (every field can be overridden by a config file):
 * - `ablate`: 3 identities × 64 frames of 32², 12 held out; short trainings (TSDM 40 steps, FCSD 40 + 40, each
 *   variant's conditions 40, LCM 15, refiner 15, alignment ensemble 2) sized so the whole ablation (about 15 CPU-minutes)
 *   finishes within 30 min on this project's shared 2-core machine even when it is heavily loaded — far fewer frames
 *   and steps than the demo (320 frames, TSDM 400, FCSD 300 + 300, LCM 150), so its numbers are those of briefly
 *   trained models, not of the method at convergence.
 * - `tiny`: 2 identities × 20 frames, 16² stage 2 / 3, a few steps: a smoke test (tests, CI), not an experiment.
 *
 * @example
 * ```ts
 * import { resolveAblationConfig, ablationOptionsFromConfig } from '@consistent-avatar/avatar';
 * const config = resolveAblationConfig({ identities: 4 }, 'ablate');
 * const options = ablationOptionsFromConfig(config, 'runs/ablate');
 * ```
 *
 * @packageDocumentation
 */
import { configField as f, resolveConfig, ValidationError, type ConfigSchema } from '@consistent-avatar/core';
import { resolveTsdmConfig } from '@consistent-avatar/tsd';
import { resolveFcsdConfig } from '../fcsd/config.js';
import { resolveNestedConfig } from '../cli/config-file.js';
import type { AblationOptions } from './ablate.js';

/**
 * The ablation config (JSON).
 * @example
 * ```ts
 * const c: AblationConfig = { ...ABLATION_PRESETS.tiny, identities: 3 };
 * ```
 */
export interface AblationConfig {
  /** Synthetic identities 1 … n. */
  identities: number;
  /** Seed of every stage. */
  seed: number;
  /** Frames per video, frame side, held-out frames, renderer supersampling. */
  frames: number;
  size: number;
  testFrames: number;
  supersample: number;
  /** Validation frames carved before the test block (0: the protocol's default, 10 % of the training frames). */
  validationFrames: number;
  /** TSDM alignment ensemble. */
  alignEnsemble: number;
  /** Stage-1 options (`fitProxyAvatar`: steps, textureSize, batchPixels, …). */
  proxy: Record<string, unknown>;
  /** Stage-2 config (`resolveTsdmConfig` fields). */
  tsdm: Record<string, unknown>;
  /** Stage-3 config (`resolveFcsdConfig` fields). */
  fcsd: Record<string, unknown>;
}

/**
 * The named presets.
 * @example
 * ```ts
 * ABLATION_PRESETS.ablate.identities; // 3
 * ```
 */
export const ABLATION_PRESETS: Readonly<Record<'ablate' | 'tiny', Readonly<AblationConfig>>> = Object.freeze({
  ablate: Object.freeze({
    identities: 3, seed: 0, frames: 64, size: 32, testFrames: 12, supersample: 1, validationFrames: 0, alignEnsemble: 2,
    proxy: {},
    tsdm: { iterations: 40, checkpointEvery: 10, logEvery: 10 },
    fcsd: { backboneIterations: 40, controlIterations: 40, lcmIterations: 15, refinerIterations: 15, checkpointEvery: 10, logEvery: 5 },
  }),
  tiny: Object.freeze({
    identities: 2, seed: 0, frames: 20, size: 32, testFrames: 4, supersample: 1, validationFrames: 2, alignEnsemble: 1,
    proxy: { steps: 5, textureSize: 16, batchPixels: 512 },
    tsdm: { size: 16, tsdRadius: 2, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8, iterations: 4, checkpointEvery: 2, logEvery: 2 },
    fcsd: {
      size: 16, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8, conditioningChannels: [8], batchSize: 2,
      backboneIterations: 3, controlIterations: 3, lcmIterations: 2, lcmDdimTimesteps: 10, refinerIterations: 2, ddimSteps: 3, checkpointEvery: 2, logEvery: 1,
    },
  }),
});

const FIELDS: ConfigSchema<AblationConfig> = {
  identities: f.positiveInt({ max: 1000 }),
  seed: f.nonNegativeInt({ max: 2 ** 31 - 1 }),
  frames: f.positiveInt({ max: 100_000 }),
  size: f.positiveInt({ max: 2048 }),
  testFrames: f.positiveInt({ max: 100_000 }),
  supersample: f.positiveInt({ max: 8 }),
  validationFrames: f.nonNegativeInt({ max: 100_000 }),
  alignEnsemble: f.positiveInt({ max: 256 }),
  proxy: f.jsonObject(),
  tsdm: f.jsonObject(),
  fcsd: f.jsonObject(),
};

/**
 * Validate a config over a preset: unknown or malformed fields throw a `ValidationError` naming `config.<field>`
 * (`config.tsdm.<field>`, `config.fcsd.<field>` for the stage sections).
 * @param input - the parsed JSON (or undefined: the preset as is).
 * @param preset - the base, default `'ablate'`.
 * @example
 * ```ts
 * resolveAblationConfig({ fcsd: { controlIterations: -1 } }); // throws … 'config.fcsd.controlIterations' …
 * ```
 */
export function resolveAblationConfig(input: unknown, preset: keyof typeof ABLATION_PRESETS = 'ablate'): AblationConfig {
  const FN = 'resolveAblationConfig';
  const base = ABLATION_PRESETS[preset];
  if (!base) throw new ValidationError(FN, 'preset', `one of ${Object.keys(ABLATION_PRESETS).join(', ')}`, preset);
  const c = resolveConfig({ fn: FN, fields: FIELDS, defaults: base as AblationConfig }, input);
  // The stage sections, each by its own resolver, errors renamed to the config path.
  const tsdm = resolveNestedConfig(FN, 'tsdm', c.tsdm, resolveTsdmConfig);
  resolveNestedConfig(FN, 'fcsd', c.fcsd, (p: Record<string, unknown>) => resolveFcsdConfig({ size: tsdm.size, ...p }));
  if (c.testFrames >= c.frames - 2) throw new ValidationError(FN, 'config.testFrames', `fewer than frames − 2 (${c.frames - 2})`, c.testFrames);
  return c;
}

/**
 * The `runAblation` options of a resolved config.
 * @param config - from {@link resolveAblationConfig}.
 * @param out - the folder the identities and parts go to.
 * @example
 * ```ts
 * const result = await runAblation({ ...ablationOptionsFromConfig(config, 'runs/a/outputs/ablate'), shard });
 * ```
 */
export function ablationOptionsFromConfig(config: AblationConfig, out: string): AblationOptions {
  if (!config || typeof config !== 'object') throw new ValidationError('ablationOptionsFromConfig', 'config', 'an AblationConfig (resolveAblationConfig)', config);
  return {
    out,
    identities: config.identities,
    seed: config.seed,
    dataset: { frames: config.frames, size: config.size, testFrames: config.testFrames, supersample: config.supersample },
    method: {
      ...(config.validationFrames > 0 ? { validationFrames: config.validationFrames } : {}),
      alignEnsemble: config.alignEnsemble,
      proxy: config.proxy,
      tsdm: config.tsdm,
      fcsd: config.fcsd,
    },
  };
}
