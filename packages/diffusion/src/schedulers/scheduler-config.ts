/**
 * Reading and validating scheduler configs with diffusers' field names, through core's config validator: defaults
 * filled in, every known field type-checked (throwing {@link ValidationError} naming the class and field), unknown
 * fields ignored the way diffusers' `from_config` ignores them (an SD `scheduler_config.json` written for PNDM carries
 * `skip_prk_steps`, …) — the one place where unknown keys are dropped rather than rejected.
 *
 * @example
 * ```ts
 * import { configField } from '@consistent-avatar/core';
 * import { resolveSchedulerConfig, BASE_CONFIG_FIELDS, DDIM_DEFAULTS } from '@consistent-avatar/diffusion';
 * const fields = { ...BASE_CONFIG_FIELDS, set_alpha_to_one: configField.boolean() };
 * const config = resolveSchedulerConfig('MyScheduler', DDIM_DEFAULTS, fields, { steps_offset: 1, skip_prk_steps: true });
 * console.log(config.steps_offset, 'skip_prk_steps' in config); // 1 false
 * resolveSchedulerConfig('MyScheduler', DDIM_DEFAULTS, fields, { beta_schedule: 'cosine' });
 * // throws ValidationError: MyScheduler: argument 'config.beta_schedule' expected one of 'linear', …, got "cosine"
 * ```
 */
import { configField as f, resolveConfig, type ConfigSchema } from '@consistent-avatar/core';
import { BETA_SCHEDULES } from './beta-schedules.js';
import { TIMESTEP_SPACINGS } from './timestep-spacing.js';
import type { BaseSchedulerConfig } from './types.js';

/**
 * Largest `num_train_timesteps` accepted (and so the longest `trained_betas`): 100 times diffusers' 1000. The noise
 * schedule is computed eagerly, so a larger count would allocate and loop for no use (2^31 hangs for minutes).
 *
 * @example
 * ```ts
 * MAX_TRAIN_TIMESTEPS; // 100000
 * ```
 */
export const MAX_TRAIN_TIMESTEPS = 100_000;

/**
 * Checks for the fields every scheduler here shares (diffusers' ranges).
 * @example
 * ```ts
 * const LCM_FIELDS: ConfigSchema<LCMSchedulerConfig> = { ...BASE_CONFIG_FIELDS, timestep_scaling: configField.positiveNumber() };
 * ```
 */
export const BASE_CONFIG_FIELDS: ConfigSchema<BaseSchedulerConfig> = {
  num_train_timesteps: f.positiveInt({ max: MAX_TRAIN_TIMESTEPS }),
  beta_start: f.number({ min: 0, minOpen: true, max: 1 }),
  beta_end: f.number({ min: 0, minOpen: true, max: 1 }),
  beta_schedule: f.oneOf(BETA_SCHEDULES),
  trained_betas: f.nullable(f.numberArray({ min: 0, max: 1, maxLength: MAX_TRAIN_TIMESTEPS })),
  rescale_betas_zero_snr: f.boolean(),
  prediction_type: f.oneOf(['epsilon', 'sample', 'v_prediction']),
  clip_sample: f.boolean(),
  clip_sample_range: f.positiveNumber(),
  thresholding: f.boolean(),
  dynamic_thresholding_ratio: f.number({ min: 0, max: 1 }),
  sample_max_value: f.positiveNumber(),
  timestep_spacing: f.oneOf(TIMESTEP_SPACINGS),
  steps_offset: f.nonNegativeInt({ max: MAX_TRAIN_TIMESTEPS }),
};

/**
 * Merge `input` over `defaults`, keeping only the fields in `fields`, and validate each.
 *
 * @param fn - class name for error messages (`'LCMScheduler'`).
 * @param defaults - the class defaults (diffusers' `__init__` defaults).
 * @param fields - how each field is checked.
 * @param input - user or JSON config (unknown keys and keys starting with `_` are ignored).
 * @throws ValidationError naming `config.<field>`.
 * @example
 * ```ts
 * const fields = { ...BASE_CONFIG_FIELDS, set_alpha_to_one: configField.boolean() };
 * resolveSchedulerConfig('DDIMScheduler', DDIM_DEFAULTS, fields, { _class_name: 'PNDMScheduler', steps_offset: 1 }); // _class_name dropped
 * ```
 */
export function resolveSchedulerConfig<C extends object>(
  fn: string,
  defaults: C,
  fields: ConfigSchema<C>,
  input: Partial<C> | Record<string, unknown> | undefined,
): C {
  return resolveConfig<C>({ fn, fields, defaults, unknownKeys: 'ignore' }, input);
}
