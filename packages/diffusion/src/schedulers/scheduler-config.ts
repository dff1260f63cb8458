/**
 * Reading and validating scheduler configs with diffusers' field names: defaults filled in, every known field
 * type-checked (throwing {@link ValidationError} naming the class and field), unknown fields ignored the way
 * diffusers' `from_config` ignores them (an SD `scheduler_config.json` written for PNDM carries `skip_prk_steps`, …).
 *
 * @example
 * ```ts
 * import { resolveSchedulerConfig, BASE_CONFIG_FIELDS, DDIM_DEFAULTS } from '@consistent-avatar/diffusion';
 * const config = resolveSchedulerConfig('MyScheduler', DDIM_DEFAULTS, BASE_CONFIG_FIELDS, { steps_offset: 1, skip_prk_steps: true });
 * console.log(config.steps_offset, 'skip_prk_steps' in config); // 1 false
 * resolveSchedulerConfig('MyScheduler', DDIM_DEFAULTS, BASE_CONFIG_FIELDS, { beta_schedule: 'cosine' });
 * // throws ValidationError: MyScheduler: argument 'config.beta_schedule' expected one of 'linear', …, got "cosine"
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import { BETA_SCHEDULES } from './beta-schedules.js';
import { TIMESTEP_SPACINGS } from './timestep-spacing.js';
import type { BaseSchedulerConfig } from './types.js';

/** How one config field is checked. */
export type ConfigField =
  | { kind: 'int'; min: number }
  | { kind: 'number'; min?: number; max?: number; exclusiveMin?: boolean }
  | { kind: 'bool' }
  | { kind: 'enum'; values: readonly string[] }
  | { kind: 'betas' };

/** Checks for the fields every scheduler here shares. */
export const BASE_CONFIG_FIELDS: Record<keyof BaseSchedulerConfig, ConfigField> = {
  num_train_timesteps: { kind: 'int', min: 1 },
  beta_start: { kind: 'number', min: 0, exclusiveMin: true, max: 1 },
  beta_end: { kind: 'number', min: 0, exclusiveMin: true, max: 1 },
  beta_schedule: { kind: 'enum', values: BETA_SCHEDULES },
  trained_betas: { kind: 'betas' },
  rescale_betas_zero_snr: { kind: 'bool' },
  prediction_type: { kind: 'enum', values: ['epsilon', 'sample', 'v_prediction'] },
  clip_sample: { kind: 'bool' },
  clip_sample_range: { kind: 'number', min: 0, exclusiveMin: true },
  thresholding: { kind: 'bool' },
  dynamic_thresholding_ratio: { kind: 'number', min: 0, max: 1 },
  sample_max_value: { kind: 'number', min: 0, exclusiveMin: true },
  timestep_spacing: { kind: 'enum', values: TIMESTEP_SPACINGS },
  steps_offset: { kind: 'int', min: 0 },
};

function checkField(fn: string, name: string, field: ConfigField, value: unknown): void {
  const fail = (expected: string): never => {
    throw new ValidationError(fn, `config.${name}`, expected, value);
  };
  switch (field.kind) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < field.min) fail(`an integer ≥ ${field.min}`);
      return;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail('a finite number');
      const v = value as number;
      const lowOk = field.min === undefined || (field.exclusiveMin ? v > field.min : v >= field.min);
      const highOk = field.max === undefined || v <= field.max;
      if (!lowOk || !highOk) {
        fail(`a number in ${field.exclusiveMin ? '(' : '['}${field.min ?? '-∞'}, ${field.max ?? '∞'}]`);
      }
      return;
    }
    case 'bool':
      if (typeof value !== 'boolean') fail('true or false');
      return;
    case 'enum':
      if (typeof value !== 'string' || !field.values.includes(value)) fail(`one of ${field.values.map((v) => `'${v}'`).join(', ')}`);
      return;
    case 'betas':
      if (value === null) return;
      if (!Array.isArray(value) || value.some((b) => typeof b !== 'number' || !(b >= 0 && b <= 1))) {
        fail('null or an array of betas in [0, 1]');
      }
      return;
  }
}

/**
 * Merge `input` over `defaults`, keeping only the fields in `fields`, and validate each.
 *
 * @param fn - class name for error messages (`'LCMScheduler'`).
 * @param defaults - the class defaults (diffusers' `__init__` defaults).
 * @param fields - how each field is checked.
 * @param input - user or JSON config (unknown keys and keys starting with `_` are ignored).
 * @throws ValidationError naming `config.<field>`.
 */
export function resolveSchedulerConfig<C extends object>(
  fn: string,
  defaults: C,
  fields: Record<keyof C, ConfigField>,
  input: Partial<C> | Record<string, unknown> | undefined,
): C {
  if (input !== undefined && (input === null || typeof input !== 'object' || Array.isArray(input))) {
    throw new ValidationError(fn, 'config', 'a config object (diffusers scheduler_config.json fields)', input);
  }
  const source = (input ?? {}) as Record<string, unknown>;
  const out = { ...defaults } as Record<string, unknown>;
  for (const name of Object.keys(fields)) {
    if (source[name] !== undefined) out[name] = source[name];
    checkField(fn, name, fields[name as keyof C], out[name]);
  }
  if (Array.isArray(out.trained_betas)) out.trained_betas = [...(out.trained_betas as number[])];
  return out as C;
}
