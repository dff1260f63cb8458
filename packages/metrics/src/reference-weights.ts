/**
 * Loading a reference network's PyTorch weights into one of this package's `nn.Module`s (LPIPS, DECA's encoder):
 * the file's keys are mapped to the module's reference key names (a prefix dropped, an alias renamed), the tensors go
 * through `nn.Module.loadStateDict` with the torch layout (OIHW convolutions, NCHW buffers transposed by `nn`), and
 * missing or mis-shaped weights raise one {@link FormatError} naming the file and the keys. Keys the module does not
 * have are left out, as PyTorch's `load_state_dict(strict=False)` leaves them (a torchvision checkpoint carries its
 * classifier, a DECA checkpoint its detail networks).
 *
 * @example
 * ```ts
 * const { tensors } = readSafetensors('deca_model.safetensors');
 * loadReferenceWeights(encoder, tensors, { file: 'deca_model.safetensors', what: 'DECA', rename: (k) => (k.startsWith('E_flame.') ? k.slice(8) : null) });
 * ```
 */
import { FormatError, nn, tensorsFromSafetensors, tf, ValidationError, type SafetensorsTensor } from '@consistent-avatar/core';

/** Options of {@link loadReferenceWeights}. */
export interface ReferenceWeightsOptions {
  /** The file (or `'<tensors>'`), named in errors. */
  readonly file: string;
  /** The network, named in errors (`'LPIPS'`, `'DECA'`). */
  readonly what: string;
  /** The module key for a file key, or null to leave the entry out. Default: the key itself. */
  readonly rename?: (key: string) => string | null;
  /** Module keys that may be missing from the file (they keep the module's values). Default: none. */
  readonly optional?: (key: string) => boolean;
}

/**
 * Load `tensors` (a PyTorch state dict read from safetensors) into `model` by the module's key names.
 *
 * @returns the load report (keys loaded, the file keys the module does not have).
 * @throws FormatError when a non-optional module key is missing or a shape does not match.
 * @example
 * ```ts
 * const report = loadReferenceWeights(lpips, tensors, { file: path, what: 'LPIPS', optional: (k) => k.startsWith('scaling_layer.') });
 * console.log(report.loaded, report.unexpected);
 * ```
 */
export function loadReferenceWeights(model: nn.Module, tensors: Record<string, SafetensorsTensor>, options: ReferenceWeightsOptions): nn.LoadReport {
  const fn = 'loadReferenceWeights';
  if (!(model instanceof nn.Module)) throw new ValidationError(fn, 'model', 'an nn.Module', model);
  if (tensors === null || typeof tensors !== 'object') throw new ValidationError(fn, 'tensors', 'a record of safetensors entries', tensors);
  // 1. File keys → module keys (an alias is dropped when the canonical key is also in the file).
  const renamed: Record<string, SafetensorsTensor> = {};
  for (const [key, entry] of Object.entries(tensors)) {
    const name = options.rename ? options.rename(key) : key;
    if (name !== null && !(name !== key && Object.hasOwn(tensors, name))) renamed[name] = entry;
  }
  // 2. Through nn's torch-layout conversion.
  const dict = tensorsFromSafetensors(renamed, options.file);
  let report: nn.LoadReport;
  try {
    report = model.loadStateDict(dict, { strict: false, layout: 'torch', source: options.file });
  } finally {
    tf.dispose(Object.values(dict));
  }
  // 3. What the module needed and did not get.
  const missing = report.missing.filter((k) => !options.optional?.(k));
  if (missing.length || report.mismatched.length) {
    const list = (xs: string[]) => xs.slice(0, 12).join(', ') + (xs.length > 12 ? `, … (${xs.length} in all)` : '');
    const parts = [missing.length ? `missing ${options.what} weights: ${list(missing)}` : '', report.mismatched.length ? `shape mismatches: ${list(report.mismatched)}` : ''];
    throw new FormatError('safetensors', options.file, parts.filter(Boolean).join('; '));
  }
  return report;
}

/**
 * A container with the reference's child names: a PyTorch `nn.Sequential` whose parameter-free entries (ReLU,
 * pooling, dropout) are left out keeps its indices (`net.slice2.3`, `lin0.model.1`, `layers.2`).
 *
 * @example
 * ```ts
 * const layers = new Children();
 * layers.add(0, new nn.Linear(2048, 1024));
 * layers.add(2, new nn.Linear(1024, 236)); // keys layers.0.*, layers.2.* as DECA's Sequential
 * ```
 */
export class Children extends nn.Module {
  /** Register `module` under `name` (an index of the reference `Sequential`, or an attribute name). */
  add<T extends nn.Module>(name: string | number, module: T): T {
    return this.registerModule(String(name), module);
  }
}
