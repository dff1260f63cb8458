/**
 * The `nn` module system: a tree of named parameters whose dotted names match PyTorch / diffusers state-dict keys
 * (`down_blocks.0.attentions.0.proj_in.weight`), so reference checkpoints load by name.
 *
 * Parameters are `tf.Variable`s stored in the layout our NHWC tfjs code wants. Each parameter records its
 * {@link TorchLayout}, the one documented transpose between PyTorch's layout and ours, applied by
 * {@link Module.loadStateDict} / {@link Module.stateDict} when `layout: 'torch'` is asked for.
 *
 * @example
 * ```ts
 * import { nn, Rng, tf } from '@consistent-avatar/core';
 * class Mlp extends nn.Module {
 *   fc1 = this.registerModule('fc1', new nn.Linear(4, 8, { rng: new Rng(0) }));
 *   fc2 = this.registerModule('fc2', new nn.Linear(8, 2, { rng: new Rng(1) }));
 *   forward(x: tf.Tensor) { return this.fc2.forward(nn.silu(this.fc1.forward(x))); }
 * }
 * const mlp = new Mlp();
 * console.log(mlp.parameterCount(), Object.keys(mlp.stateDict())); // 58 ['fc1.weight','fc1.bias','fc2.weight','fc2.bias']
 * mlp.dispose();
 * ```
 */
import { tf } from '../backend/tf.js';
import { ValidationError } from '../errors.js';

/**
 * How a parameter's PyTorch layout maps to ours.
 * - `identity`: same layout (Linear weights stay [out, in]; biases, norms, embeddings).
 * - `conv2d`: PyTorch OIHW [out, in/groups, kh, kw] ↔ ours HWIO [kh, kw, in/groups, out] (transpose [2, 3, 1, 0]).
 * - `conv2dTranspose`: PyTorch [in, out/groups, kh, kw] ↔ ours [kh, kw, out/groups, in] (transpose [2, 3, 1, 0]).
 * - `nchw`: a PyTorch NCHW tensor (e.g. a `[1, C, 1, 1]` per-channel buffer broadcast over images) ↔ ours NHWC
 *   `[1, 1, 1, C]` (transpose [0, 2, 3, 1]).
 */
export type TorchLayout = 'identity' | 'conv2d' | 'conv2dTranspose' | 'nchw';

/** The permutation taking a PyTorch-layout tensor to ours (`ours = transpose(torch, perm)`); null for identity. */
const FROM_TORCH: Readonly<Record<TorchLayout, readonly number[] | null>> = {
  identity: null,
  conv2d: [2, 3, 1, 0], // [O, I, kh, kw] → [kh, kw, I, O]
  conv2dTranspose: [2, 3, 1, 0], // [I, O, kh, kw] → [kh, kw, O, I]
  nchw: [0, 2, 3, 1], // [N, C, H, W] → [N, H, W, C]
};

/** A registered parameter or buffer. */
export interface ParameterEntry {
  variable: tf.Variable;
  torchLayout: TorchLayout;
  /** Buffers are saved in the state dict but never trained. */
  kind: 'parameter' | 'buffer';
}

/** Result of {@link Module.loadStateDict}. */
export interface LoadReport {
  /** Keys the module has that the dict lacked. */
  missing: string[];
  /** Keys in the dict the module does not have. */
  unexpected: string[];
  /** Keys present in both with different shapes (`name: expected [..] got [..]`). */
  mismatched: string[];
  /** Keys loaded. */
  loaded: number;
}

/** Options for {@link Module.loadStateDict}. */
export interface LoadOptions {
  /** Throw on missing / unexpected / mismatched keys (default true). With false, load what matches and report. */
  strict?: boolean;
  /** `torch` applies each parameter's {@link TorchLayout} transpose on the way in (default `native`). */
  layout?: 'native' | 'torch';
  /** Name of the source, used in error messages (a file path). */
  source?: string;
  /** Dispose the tensors of `dict` after loading (saves memory on large checkpoints). Default false. */
  disposeSource?: boolean;
}

/**
 * Our tensor in PyTorch's layout (a new tensor; the caller disposes it).
 * @example
 * ```ts
 * const oihw = nn.toTorchLayout(conv.weight, 'conv2d'); // [kh, kw, I, O] → [O, I, kh, kw]
 * ```
 */
export function toTorchLayout(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  const perm = FROM_TORCH[layout];
  if (!perm) return t.clone();
  const inverse = perm.map((_, i) => perm.indexOf(i)); // ours → torch
  return tf.transpose(t, inverse);
}

/**
 * A PyTorch-layout tensor in our layout (a new tensor; the caller disposes it).
 * @example
 * ```ts
 * const hwio = nn.fromTorchLayout(oihwWeight, 'conv2d'); // [O, I, kh, kw] → [kh, kw, I, O]
 * ```
 */
export function fromTorchLayout(t: tf.Tensor, layout: TorchLayout): tf.Tensor {
  const perm = FROM_TORCH[layout];
  return perm ? tf.transpose(t, [...perm]) : t.clone();
}

/** The shape a PyTorch-layout tensor of `shape` has in our layout (unchanged when the ranks do not fit). */
function shapeFromTorch(shape: readonly number[], layout: TorchLayout): readonly number[] {
  const perm = FROM_TORCH[layout];
  return perm && shape.length === perm.length ? perm.map((i) => shape[i]!) : shape;
}

function shapeOf(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Base class of every network. Subclasses register parameters and children in their constructors. */
export class Module {
  /** Training mode (dropout active). Set with {@link train} / {@link eval}. */
  training = true;
  private readonly entries = new Map<string, ParameterEntry>();
  private readonly children = new Map<string, Module>();
  private disposed = false;

  /**
   * Register a trainable parameter under `name` (no dots). Takes ownership of `value`.
   * @returns the variable, for use in `forward`.
   */
  protected registerParameter(name: string, value: tf.Tensor, torchLayout: TorchLayout = 'identity'): tf.Variable {
    return this.register(name, value, torchLayout, 'parameter');
  }

  /** Register a non-trainable tensor saved with the state dict (e.g. `position_ids`, running statistics). */
  protected registerBuffer(name: string, value: tf.Tensor, torchLayout: TorchLayout = 'identity'): tf.Variable {
    return this.register(name, value, torchLayout, 'buffer');
  }

  private register(name: string, value: tf.Tensor, torchLayout: TorchLayout, kind: ParameterEntry['kind']): tf.Variable {
    if (name.includes('.') || name.length === 0) throw new ValidationError('Module.registerParameter', 'name', 'a non-empty name without dots', name);
    if (this.entries.has(name) || this.children.has(name)) throw new ValidationError('Module.registerParameter', 'name', 'a name not registered yet', name);
    const variable = tf.variable(value, kind === 'parameter', undefined, value.dtype);
    value.dispose();
    this.entries.set(name, { variable, torchLayout, kind });
    return variable;
  }

  /** Register a child module under `name` (its parameters get the prefix `name.`). */
  protected registerModule<T extends Module>(name: string, child: T): T {
    if (name.includes('.') || name.length === 0) throw new ValidationError('Module.registerModule', 'name', 'a non-empty name without dots', name);
    if (this.entries.has(name) || this.children.has(name)) throw new ValidationError('Module.registerModule', 'name', 'a name not registered yet', name);
    this.children.set(name, child);
    return child;
  }

  /** Replace a registered child (used to swap attention processors or heads); disposes the old one unless asked not to. */
  protected replaceModule<T extends Module>(name: string, child: T, disposeOld = true): T {
    const old = this.children.get(name);
    if (!old) throw new ValidationError('Module.replaceModule', 'name', 'a registered child', name);
    if (disposeOld && old !== child) old.dispose();
    this.children.set(name, child);
    return child;
  }

  /** Direct children by name. */
  namedChildren(): Array<[string, Module]> {
    return [...this.children.entries()];
  }

  /** Every module in the tree with its dotted path ('' for this one), depth first in registration order. */
  namedModules(prefix = ''): Array<[string, Module]> {
    const out: Array<[string, Module]> = [[prefix, this]];
    for (const [name, child] of this.children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** Every parameter and buffer entry with its dotted name. */
  namedEntries(prefix = ''): Array<[string, ParameterEntry]> {
    const out: Array<[string, ParameterEntry]> = [];
    for (const [name, entry] of this.entries) out.push([prefix ? `${prefix}.${name}` : name, entry]);
    for (const [name, child] of this.children) out.push(...child.namedEntries(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  /** Trainable parameters (not buffers) with their dotted names. */
  namedParameters(): Array<[string, tf.Variable]> {
    return this.namedEntries()
      .filter(([, e]) => e.kind === 'parameter')
      .map(([n, e]) => [n, e.variable]);
  }

  /** Trainable variables whose `trainable` flag is set (see {@link freeze}). */
  trainableVariables(): tf.Variable[] {
    return this.namedParameters()
      .map(([, v]) => v)
      .filter((v) => v.trainable);
  }

  /** Number of parameter elements (buffers excluded), like `sum(p.numel() for p in model.parameters())`. */
  parameterCount(): number {
    let n = 0;
    for (const [, v] of this.namedParameters()) n += v.size;
    return n;
  }

  /**
   * The state dict: every parameter and buffer by dotted name. With `layout: 'native'` (default) the tensors are the
   * live variables (do not dispose them); with `layout: 'torch'` they are new tensors in PyTorch layout (dispose them).
   */
  stateDict(options: { layout?: 'native' | 'torch' } = {}): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, entry] of this.namedEntries()) {
      out[name] = options.layout === 'torch' ? tf.tidy(() => toTorchLayout(entry.variable, entry.torchLayout)) : entry.variable;
    }
    return out;
  }

  /**
   * Load tensors by dotted name. Shapes must match exactly (after the torch-layout transpose when
   * `layout: 'torch'`). In strict mode (default) any missing, unexpected or mismatched key throws one error listing
   * them all; otherwise the report says what happened. The dict's tensors are copied (not retained).
   */
  loadStateDict(dict: Record<string, tf.Tensor>, options: LoadOptions = {}): LoadReport {
    const strict = options.strict ?? true;
    const source = options.source ? ` from ${options.source}` : '';
    const entries = new Map(this.namedEntries());
    const report: LoadReport = { missing: [], unexpected: [], mismatched: [], loaded: 0 };
    for (const key of Object.keys(dict)) if (!entries.has(key)) report.unexpected.push(key);
    const plans: Array<[ParameterEntry, tf.Tensor]> = [];
    for (const [name, entry] of entries) {
      const value = dict[name];
      if (!value) {
        report.missing.push(name);
        continue;
      }
      const expected = entry.variable.shape;
      const incoming = options.layout === 'torch' ? shapeFromTorch(value.shape, entry.torchLayout) : value.shape;
      if (incoming.length !== expected.length || incoming.some((d, i) => d !== expected[i])) {
        report.mismatched.push(`${name}: expected ${shapeOf(expected)} got ${shapeOf(value.shape)}${options.layout === 'torch' ? ' (torch layout)' : ''}`);
        continue;
      }
      plans.push([entry, value]);
    }
    if (strict && (report.missing.length || report.unexpected.length || report.mismatched.length)) {
      const parts: string[] = [];
      const list = (xs: string[]) => xs.slice(0, 20).join(', ') + (xs.length > 20 ? `, … (${xs.length} in all)` : '');
      if (report.missing.length) parts.push(`missing keys: ${list(report.missing)}`);
      if (report.unexpected.length) parts.push(`unexpected keys: ${list(report.unexpected)}`);
      if (report.mismatched.length) parts.push(`shape mismatches: ${list(report.mismatched)}`);
      throw new ValidationError(`${this.constructor.name}.loadStateDict`, `dict${source}`, 'exactly the module\'s keys and shapes (pass {strict: false} to load what matches)', parts.join('; '));
    }
    for (const [entry, value] of plans) {
      tf.tidy(() => {
        const converted = options.layout === 'torch' ? fromTorchLayout(value, entry.torchLayout) : value;
        entry.variable.assign(converted.dtype === entry.variable.dtype ? converted : tf.cast(converted, entry.variable.dtype));
      });
      report.loaded++;
    }
    if (options.disposeSource) for (const t of Object.values(dict)) t.dispose();
    return report;
  }

  /** Set training mode on this module and every descendant. */
  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  /** Evaluation mode (dropout off). */
  eval(): this {
    return this.train(false);
  }

  /** Exclude every parameter from {@link trainableVariables} (e.g. a frozen UNet under ControlNet training). */
  freeze(): this {
    for (const [, v] of this.namedParameters()) (v as { trainable: boolean }).trainable = false;
    return this;
  }

  /** Undo {@link freeze}. */
  unfreeze(): this {
    for (const [, v] of this.namedParameters()) (v as { trainable: boolean }).trainable = true;
    return this;
  }

  /** Free every variable of this module and its children. Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const [, entry] of this.entries) entry.variable.dispose();
    for (const [, child] of this.children) child.dispose();
    this.entries.clear();
    this.children.clear();
  }

  /** True after {@link dispose}. */
  get isDisposed(): boolean {
    return this.disposed;
  }
}

/** A list of modules registered as `0`, `1`, … (PyTorch `nn.ModuleList`). */
export class ModuleList<T extends Module = Module> extends Module {
  /** The modules in order (read it; add with {@link ModuleList.push} so the parameter names stay registered). */
  readonly items: T[] = [];
  /** @param items Modules to register as `0`, `1`, … in order. */
  constructor(items: T[] = []) {
    super();
    for (const item of items) this.push(item);
  }
  /** Append a module; its parameters are named `${index}.…`. */
  push(item: T): T {
    this.registerModule(String(this.items.length), item);
    this.items.push(item);
    return item;
  }
  /** Number of modules. */
  get length(): number {
    return this.items.length;
  }
  /** The module at `index` in [0, length); throws a `ValidationError` outside it (no negative indices). */
  at(index: number): T {
    const item = this.items[index];
    if (!item) throw new ValidationError('ModuleList.at', 'index', `an index in [0, ${this.items.length})`, index);
    return item;
  }
  /** Iterate the modules in order (`for (const block of list)`). */
  [Symbol.iterator](): Iterator<T> {
    return this.items[Symbol.iterator]();
  }
}
