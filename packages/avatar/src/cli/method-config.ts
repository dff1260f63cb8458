/**
 * The config of a method run folder (every stage command of `ca` reads the same one): a JSON file
 *
 * ```json
 * { "preset": "quick", "seed": 0, "validationFrames": 2, "alignEnsemble": 1, "ddimRow": false,
 *   "proxy": { "steps": 300 }, "tsdm": { "iterations": 3000 }, "fcsd": { "controlIterations": 300 } }
 * ```
 *
 * Every field is optional: `preset` (`none` | `quick`, see `METHOD_PRESETS`) sets the sections first, the file's
 * fields override it (section by section, field by field). `proxy` takes stage 1's numeric options, `tsdm` the
 * `TsdmConfig`, `fcsd` the `FcsdConfig` (each validated with its stage's own resolver; errors name the field as
 * `config.fcsd.<field>`). `renderBatchSize` (default 8) is the frames per render batch, the unit `ca render --shard`
 * splits the held-out frames by. The dataset (`--data`, `--layout`) and the backbone folder (`--backbone`) are flags; the run
 * folder's `config.json` records them with the resolved file.
 *
 * @example
 * ```ts
 * import { readMethodConfig, methodRunOptions } from './method-config.js';
 * const config = readMethodConfig('ca run', 'run.json');
 * const options = methodRunOptions(config, { data: 'data/synthetic', out: 'runs/a', layout: 'insta', backbone: null });
 * ```
 *
 * @packageDocumentation
 */
import { configField as f, resolveConfig, type ConfigSchema, type ConfigSpec } from '@consistent-avatar/core';
import { resolveTsdmConfig } from '@consistent-avatar/tsd';
import { resolveFcsdConfig } from '../fcsd/config.js';
import { METHOD_PRESETS } from '../pipeline/method-presets.js';
import type { DatasetLayout } from '../pipeline/method-stages.js';
import type { RunMethodOptions } from '../pipeline/run-method.js';
import { readConfigFile, resolveNestedConfig } from './config-file.js';

/** A method run's config file (see the module comment). */
export interface MethodConfig {
  preset: 'none' | 'quick';
  seed: number;
  validationFrames?: number;
  alignEnsemble?: number;
  ddimRow?: boolean;
  renderBatchSize?: number;
  proxy?: Record<string, unknown>;
  tsdm?: Record<string, unknown>;
  fcsd?: Record<string, unknown>;
}

const FIELDS: ConfigSchema<MethodConfig> = {
  preset: f.oneOf(['none', 'quick']),
  seed: f.nonNegativeInt(),
  validationFrames: f.optional(f.positiveInt()),
  alignEnsemble: f.optional(f.positiveInt()),
  ddimRow: f.optional(f.boolean()),
  renderBatchSize: f.optional(f.positiveInt()),
  proxy: f.optional(f.jsonObject()),
  tsdm: f.optional(f.jsonObject()),
  fcsd: f.optional(f.jsonObject()),
};

interface ProxySection { steps?: number; textureSize?: number; batchPixels?: number; lr?: number; smoothness?: number; fitLighting?: boolean; pixelsPerFrame?: number; maxFrames?: number; checkpointEvery?: number; logEvery?: number }

const PROXY_FIELDS: ConfigSchema<ProxySection> = {
  steps: f.optional(f.nonNegativeInt()),
  textureSize: f.optional(f.integer({ min: 4, max: 2048 })),
  batchPixels: f.optional(f.positiveInt()),
  lr: f.optional(f.positiveNumber()),
  smoothness: f.optional(f.number({ min: 0 })),
  fitLighting: f.optional(f.boolean()),
  pixelsPerFrame: f.optional(f.positiveInt()),
  maxFrames: f.optional(f.positiveInt()),
  checkpointEvery: f.optional(f.positiveInt()),
  logEvery: f.optional(f.positiveInt()),
};

/**
 * Validate a method config (a parsed file or a run folder's record) for command `fn`: unknown fields are errors,
 * the stage sections are checked with their own resolvers after the preset is applied.
 * @param fn - the command, named in errors (`'ca run'`).
 * @param input - the parsed JSON (undefined: the defaults).
 * @returns the resolved config (sections as given, not filled in, so the file round-trips).
 * @throws ValidationError naming the field (`config.tsdm.iterations`).
 * @example
 * ```ts
 * resolveMethodConfig('ca run', { preset: 'quick', fcsd: { controlIterations: 8 } });
 * ```
 */
export function resolveMethodConfig(fn: string, input: unknown): MethodConfig {
  const config = resolveConfig(methodConfigSpec(fn), input);
  checkSections(fn, config);
  return config;
}

/**
 * Read and validate a method config file (see {@link resolveMethodConfig}).
 * @param fn - the command, named in errors.
 * @param file - the JSON file, or undefined for the defaults.
 * @returns the resolved config.
 * @example
 * ```ts
 * const config = readMethodConfig('ca run', 'configs/quick.json');
 * ```
 */
export function readMethodConfig(fn: string, file: string | undefined): MethodConfig {
  const config = readConfigFile(file, methodConfigSpec(fn));
  checkSections(fn, config);
  return config;
}

function methodConfigSpec(fn: string): ConfigSpec<MethodConfig> {
  return { fn, fields: FIELDS, defaults: { preset: 'none', seed: 0 } };
}

function checkSections(fn: string, config: MethodConfig): void {
  resolveConfig({ fn, fields: PROXY_FIELDS, defaults: {}, argument: 'config.proxy' }, config.proxy);
  const options = methodRunOptions(config, { data: '', out: '', layout: 'insta', backbone: null });
  const tsdm = resolveNestedConfig(fn, 'tsdm', { seed: config.seed, ...options.tsdm }, resolveTsdmConfig);
  resolveNestedConfig(fn, 'fcsd', { seed: config.seed, size: tsdm.size, ...options.fcsd }, resolveFcsdConfig);
}

/** The inputs a method run reads, given as flags. */
export interface MethodInputs {
  /** The dataset folder. */
  data: string;
  /** The run folder. */
  out: string;
  layout: DatasetLayout;
  /** A diffusers SD folder as the frozen stage-3 backbone, or null for the embedded one. */
  backbone: string | null;
}

/**
 * The {@link runMethod} options of a config and its inputs (the preset's sections under the file's).
 * @param config - from {@link readMethodConfig}.
 * @param inputs - the dataset, run folder, layout and backbone.
 * @returns the options (`runMethod(options)` gives the numbers `ca run` gives).
 * @example
 * ```ts
 * const options = methodRunOptions(config, { data, out, layout: 'insta', backbone: null });
 * ```
 */
export function methodRunOptions(config: MethodConfig, inputs: MethodInputs): RunMethodOptions {
  const preset = METHOD_PRESETS[config.preset];
  const alignEnsemble = config.alignEnsemble ?? preset.alignEnsemble;
  return {
    data: inputs.data,
    out: inputs.out,
    layout: inputs.layout,
    seed: config.seed,
    ...(config.validationFrames !== undefined ? { validationFrames: config.validationFrames } : {}),
    ...(alignEnsemble !== undefined ? { alignEnsemble } : {}),
    ...(config.ddimRow !== undefined ? { ddimRow: config.ddimRow } : {}),
    ...(config.renderBatchSize !== undefined ? { renderBatchSize: config.renderBatchSize } : {}),
    proxy: { ...preset.proxy, ...config.proxy },
    tsdm: { ...preset.tsdm, ...config.tsdm },
    fcsd: { ...preset.fcsd, ...config.fcsd },
    ...(inputs.backbone ? { backbone: inputs.backbone } : {}),
  };
}
