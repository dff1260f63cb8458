/**
 * diffusers model folders: `config.json` + `diffusion_pytorch_model.safetensors` (or `model.safetensors`). Loading
 * reads the config, builds the model with zero init (the checkpoint overwrites every weight), and loads the tensors
 * under diffusers' key names with the PyTorch → ours layout conversion (OIHW conv kernels → HWIO; Linear weights stay
 * [out, in]). fp16 / bf16 / f64 files are upcast to float32 by core's reader. Saving writes the same two files back in
 * PyTorch layout, so diffusers' `from_pretrained` reads them.
 *
 * @example
 * ```ts
 * import { UNet2DConditionModel, AutoencoderKL, fromPretrained, savePretrained } from '@consistent-avatar/diffusion';
 * const unet = fromPretrained(UNet2DConditionModel, 'sd15/unet');       // throws listing missing / unexpected keys
 * const vae = fromPretrained(AutoencoderKL, 'sd15/vae', { strict: false }); // loads what matches, warns via onReport
 * savePretrained(unet, '/tmp/my-unet');                                  // config.json + diffusion_pytorch_model.safetensors
 * ```
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, loadSafetensorsAsTensors, nn, readJson, ValidationError, writeJsonAtomic, writeSafetensors } from '@consistent-avatar/core';
import type { ModelInitOptions } from './init.js';
import { convertDeprecatedAttentionKeys } from './deprecated-attention.js';

/** Weight file names tried in order. */
export const WEIGHT_FILE_NAMES = ['diffusion_pytorch_model.safetensors', 'model.safetensors'] as const;

/** A model class loadable from a folder: constructed from its diffusers config, exposing it as `config`. */
export interface PretrainedModelClass<M extends nn.Module & { config: object }, C> {
  new (config: Partial<C>, options?: ModelInitOptions): M;
  readonly name: string;
}

/** Options of {@link fromPretrained}. */
export interface FromPretrainedOptions {
  /** Throw on missing / unexpected / mis-shaped keys (default true). With false, load what matches. */
  strict?: boolean;
  /** Compute dtype; only 'float32' (half-precision files are upcast on read). */
  dtype?: 'float32';
  /** Weight file name inside the folder (default: the first of {@link WEIGHT_FILE_NAMES} that exists). */
  weightsName?: string;
  /** Receives the load report (what was missing / unexpected / mismatched) — useful with `strict: false`. */
  onReport?: (report: nn.LoadReport & { file: string }) => void;
}

/**
 * Read and parse `<dir>/config.json`.
 * @example
 * ```ts
 * readModelConfig('sd15/unet').block_out_channels; // [320, 640, 1280, 1280]
 * ```
 */
export function readModelConfig(dir: string): Record<string, unknown> {
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('readModelConfig', 'dir', 'a folder path', dir);
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new FormatError('json', file, 'config.json not found in the model folder');
  const parsed = readJson(file); // bounded size and depth, regular files only
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new FormatError('json', file, 'expected a JSON object of config fields');
  if (Object.keys(configFields(parsed as Record<string, unknown>)).length === 0) {
    // An empty config would silently build the default (SD 1.5-sized, 860 M parameters) model.
    throw new FormatError('json', file, 'has no config field (only bookkeeping fields such as _class_name); write the model\'s fields');
  }
  return parsed as Record<string, unknown>;
}

/**
 * The weight file of a model folder.
 * @example
 * ```ts
 * findWeightsFile('sd15/unet'); // 'sd15/unet/diffusion_pytorch_model.safetensors'
 * ```
 */
export function findWeightsFile(dir: string, weightsName?: string): string {
  const names = weightsName ? [weightsName] : [...WEIGHT_FILE_NAMES];
  for (const n of names) {
    const f = path.join(dir, n);
    if (fs.existsSync(f)) return f;
  }
  throw new FormatError('safetensors', path.join(dir, names[0]!), `no weight file in ${dir} (looked for ${names.join(', ')})`);
}

/** Drop diffusers' bookkeeping fields (`_class_name`, `_diffusers_version`, `_name_or_path`, …). */
function configFields(raw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(raw).filter(([k]) => !k.startsWith('_')));
}

/**
 * Load tensors from a safetensors file into `model` (torch layout). Attention projections under diffusers'
 * deprecated names (`query`, `key`, `value`, `proj_attn`) are renamed first, as diffusers does on load
 * ({@link convertDeprecatedAttentionKeys}). Errors name the file and the keys.
 * @returns the load report.
 * @example
 * ```ts
 * const report = loadWeightsFile(unet, 'unet_ema.safetensors', { strict: false });
 * console.log(report.missing, report.unexpected);
 * ```
 */
export function loadWeightsFile(model: nn.Module, file: string, options: { strict?: boolean } = {}): nn.LoadReport {
  const tensors = loadSafetensorsAsTensors(file);
  try {
    const { dict } = convertDeprecatedAttentionKeys(tensors, model.namedParameters().map(([k]) => k));
    return model.loadStateDict(dict, { strict: options.strict ?? true, layout: 'torch', source: file });
  } finally {
    for (const t of Object.values(tensors)) t.dispose();
  }
}

/**
 * Build a model from a diffusers folder and load its weights.
 * @param ModelClass - e.g. `UNet2DConditionModel`, `AutoencoderKL`.
 * @param dir - folder with `config.json` and the weights.
 * @example
 * ```ts
 * const vae = fromPretrained(AutoencoderKL, 'sd15/vae', { strict: false, onReport: (r) => console.log(r.missing) });
 * ```
 */
export function fromPretrained<M extends nn.Module & { config: object }, C>(ModelClass: PretrainedModelClass<M, C>, dir: string, options: FromPretrainedOptions = {}): M {
  if (options.dtype !== undefined && options.dtype !== 'float32') {
    throw new ValidationError('fromPretrained', 'options.dtype', "'float32' (fp16 / bf16 checkpoints are upcast on load)", options.dtype);
  }
  const raw = readModelConfig(dir);
  const cls = raw['_class_name'];
  if (typeof cls === 'string' && cls !== ModelClass.name) {
    throw new ValidationError('fromPretrained', 'dir', `a ${ModelClass.name} folder (config.json _class_name)`, `${cls} in ${dir}`);
  }
  const file = findWeightsFile(dir, options.weightsName);
  const model = new ModelClass(configFields(raw) as Partial<C>, { init: 'zeros' });
  try {
    const report = loadWeightsFile(model, file, { strict: options.strict });
    options.onReport?.({ ...report, file });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/**
 * Write `<dir>/config.json` (the model's diffusers config plus `_class_name`) and
 * `<dir>/diffusion_pytorch_model.safetensors` (every parameter in PyTorch layout, F32).
 * @example
 * ```ts
 * savePretrained(unet, 'out/unet'); // diffusers' UNet2DConditionModel.from_pretrained('out/unet') reads it
 * ```
 */
export function savePretrained(model: nn.Module & { config: object }, dir: string): void {
  if (!(model instanceof nn.Module) || typeof model.config !== 'object') throw new ValidationError('savePretrained', 'model', 'a model with a diffusers config', model);
  if (typeof dir !== 'string' || dir.length === 0) throw new ValidationError('savePretrained', 'dir', 'a folder path', dir);
  fs.mkdirSync(dir, { recursive: true });
  const config = { _class_name: model.constructor.name, _diffusers_version: '0.40.0.dev0', ...model.config };
  writeJsonAtomic(path.join(dir, 'config.json'), config, { indent: 2 });
  const dict = model.stateDict({ layout: 'torch' });
  try {
    writeSafetensors(path.join(dir, WEIGHT_FILE_NAMES[0]), dict, { format: 'pt' });
  } finally {
    for (const t of Object.values(dict)) t.dispose();
  }
}

