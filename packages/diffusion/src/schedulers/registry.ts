/**
 * Scheduler registry: build a scheduler from a diffusers `scheduler_config.json` (`_class_name` + fields), or read
 * one from disk. Unknown fields are ignored as in diffusers' `from_config`, so an SD 1.5 config (written for
 * `PNDMScheduler`) can drive `LCMScheduler` by passing `className`.
 *
 * @example
 * ```ts
 * import { schedulerFromConfig } from '@consistent-avatar/diffusion';
 * const lcm = schedulerFromConfig({ _class_name: 'LCMScheduler', original_inference_steps: 50 });
 * const again = schedulerFromConfig(JSON.stringify(lcm.toJSON()));            // JSON round trip
 * // SD 1.5's scheduler_config.json names PNDMScheduler; build LCM from it (diffusers `LCMScheduler.from_config`):
 * const sd15 = { _class_name: 'PNDMScheduler', beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear',
 *   num_train_timesteps: 1000, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1, clip_sample: false };
 * const fromSd = schedulerFromConfig(sd15, { className: 'LCMScheduler' });
 * fromSd.setTimesteps(4); // [999, 759, 499, 259]
 * ```
 */
import { FormatError, readJson, ValidationError } from '@consistent-avatar/core';
import { BASE_CONFIG_FIELDS } from './scheduler-config.js';
import { DDIMScheduler } from './ddim.js';
import { DDPMScheduler } from './ddpm.js';
import { LCMScheduler } from './lcm.js';
import type { Scheduler, SchedulerClassName } from './types.js';

/** Constructors by diffusers class name. Add an entry to register a new scheduler. */
export const SCHEDULER_REGISTRY: Record<SchedulerClassName, (config: Record<string, unknown>) => Scheduler> = {
  DDPMScheduler: (config) => DDPMScheduler.fromConfig(config),
  DDIMScheduler: (config) => DDIMScheduler.fromConfig(config),
  LCMScheduler: (config) => LCMScheduler.fromConfig(config),
};

/** Options of {@link schedulerFromConfig}. */
export interface SchedulerFromConfigOptions {
  /** Build this class instead of the config's `_class_name` (diffusers `OtherScheduler.from_config(config)`). */
  className?: SchedulerClassName;
}

/**
 * Build a scheduler from a diffusers `scheduler_config.json` object or its JSON text.
 *
 * @param json - the parsed object (or the JSON string).
 * @param options - `className` to override `_class_name`.
 * @throws ValidationError for an unknown or missing class name or an invalid field; FormatError for invalid JSON text.
 */
export function schedulerFromConfig(json: Record<string, unknown> | string, options: SchedulerFromConfigOptions = {}): Scheduler {
  const fn = 'schedulerFromConfig';
  let config: unknown = json;
  if (typeof json === 'string') {
    try {
      config = JSON.parse(json);
    } catch (error) {
      throw new FormatError('json', '<string>', `not valid JSON: ${(error as Error).message}`);
    }
  }
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ValidationError(fn, 'json', 'a scheduler_config.json object', config);
  }
  const record = config as Record<string, unknown>;
  const className = options.className ?? record._class_name;
  const known = Object.keys(SCHEDULER_REGISTRY);
  if (typeof className !== 'string' || !known.includes(className)) {
    throw new ValidationError(fn, options.className !== undefined ? 'options.className' : 'json._class_name', `one of ${known.join(', ')}`, className);
  }
  return SCHEDULER_REGISTRY[className as SchedulerClassName](record);
}

/**
 * Read a diffusers `scheduler_config.json` (e.g. `<model>/scheduler/scheduler_config.json`) and build the scheduler.
 *
 * @throws FormatError when the file is unreadable or not JSON; ValidationError as {@link schedulerFromConfig}.
 */
export function readSchedulerConfig(path: string, options: SchedulerFromConfigOptions = {}): Scheduler {
  if (typeof path !== 'string' || path.length === 0) throw new ValidationError('readSchedulerConfig', 'path', 'a scheduler_config.json path', path);
  const parsed = readJson(path); // bounded size and depth, regular files only
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new FormatError('json', path, 'expected a JSON object with _class_name and scheduler fields');
  }
  if (!Object.keys(parsed).some((key) => Object.hasOwn(BASE_CONFIG_FIELDS, key))) {
    // Unknown fields are ignored (diffusers' from_config), so a file without one known field would build the defaults.
    throw new FormatError('json', path, `has no scheduler field (expected some of ${Object.keys(BASE_CONFIG_FIELDS).join(', ')})`);
  }
  return schedulerFromConfig(parsed as Record<string, unknown>, options);
}
