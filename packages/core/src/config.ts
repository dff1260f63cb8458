/**
 * The one config-field validator of the library: a flat config is described by a schema (one {@link ConfigField}
 * per field: integers, finite numbers with open / closed bounds, string or number choices, booleans, arrays with a
 * length, nullable values, alternatives, values fixed to the only one implemented, free-form JSON records) and its
 * defaults; {@link resolveConfig} fills the defaults in, checks every field, rejects unknown keys and returns a fresh
 * object that round-trips through JSON. Every error is a {@link ValidationError} naming the function, the field
 * (`config.<field>`, `config.<field>[i]`), what was expected and what came. {@link checkConfigField} applies one
 * field check to a single argument, so argument checks use the same descriptions.
 *
 * @example
 * ```ts
 * import { configField as f, resolveConfig, type ConfigSchema } from '@consistent-avatar/core';
 * interface BlurConfig { radius: number; sigma: number; mode: 'reflect' | 'zero'; taps: number[] | null }
 * const FIELDS: ConfigSchema<BlurConfig> = {
 *   radius: f.positiveInt({ max: 64 }),
 *   sigma: f.number({ min: 0, minOpen: true }),
 *   mode: f.oneOf(['reflect', 'zero']),
 *   taps: f.nullable(f.intArray({ minLength: 1 })),
 * };
 * const DEFAULTS: BlurConfig = { radius: 3, sigma: 1, mode: 'reflect', taps: null };
 * const resolveBlurConfig = (partial: Partial<BlurConfig> = {}) =>
 *   resolveConfig({ fn: 'resolveBlurConfig', fields: FIELDS, defaults: DEFAULTS }, partial);
 * resolveBlurConfig({ radius: 5 });   // { radius: 5, sigma: 1, mode: 'reflect', taps: null }
 * resolveBlurConfig({ radius: 0 });   // throws: resolveBlurConfig: argument 'config.radius' expected an integer in [1, 64], got 0
 * resolveBlurConfig({ radios: 5 } as never); // throws: … argument 'config.radios' expected a known field (radius, sigma, mode, taps), got "radios"
 * ```
 *
 * @packageDocumentation
 */
import { ValidationError } from './errors.js';

/** A JSON value a {@link FixedField} can hold. */
export type ConfigScalar = null | boolean | number | string;

interface FieldBase {
  /** The field may be absent from the resolved config (when neither the input nor the defaults give it). */
  readonly optional?: boolean;
}

/** An integer in `[min, max]` (either bound may be absent). */
export interface IntegerField extends FieldBase {
  readonly kind: 'integer';
  readonly min?: number;
  readonly max?: number;
}

/** A finite number between `min` and `max`; each bound is closed unless `minOpen` / `maxOpen`. */
export interface NumberField extends FieldBase {
  readonly kind: 'number';
  readonly min?: number;
  readonly max?: number;
  readonly minOpen?: boolean;
  readonly maxOpen?: boolean;
}

/** `true` or `false`. */
export interface BooleanField extends FieldBase {
  readonly kind: 'boolean';
}

/** One of a fixed list of strings or numbers (an enum). */
export interface OneOfField extends FieldBase {
  readonly kind: 'oneOf';
  readonly values: readonly (string | number)[];
}

/** An array whose every item passes `items`, with `minLength ≤ length ≤ maxLength`. */
export interface ArrayField extends FieldBase {
  readonly kind: 'array';
  readonly items: ConfigField;
  readonly minLength?: number;
  readonly maxLength?: number;
}

/** `null` or a value passing `field`. */
export interface NullableField extends FieldBase {
  readonly kind: 'nullable';
  readonly field: ConfigField;
}

/** A value passing any one of `fields` (e.g. one integer or one integer per block). */
export interface EitherField extends FieldBase {
  readonly kind: 'either';
  readonly fields: readonly ConfigField[];
}

/** Exactly `value`: a field of a reference config whose other values select something not implemented here. */
export interface FixedField extends FieldBase {
  readonly kind: 'fixed';
  readonly value: ConfigScalar;
  /** Why only this value is accepted (shown in the error). */
  readonly reason: string;
}

/** A free-form JSON object (plain objects, arrays, finite numbers, strings, booleans and null inside). */
export interface JsonObjectField extends FieldBase {
  readonly kind: 'jsonObject';
}

/**
 * How one config field is checked. Build them with {@link configField}.
 * @example
 * ```ts
 * const levels: ConfigField = { kind: 'integer', min: 1 }; // = configField.positiveInt()
 * ```
 */
export type ConfigField =
  | IntegerField
  | NumberField
  | BooleanField
  | OneOfField
  | ArrayField
  | NullableField
  | EitherField
  | FixedField
  | JsonObjectField;

/**
 * The declared keys of a config type `C`, without its index signature (`[extra: string]`), so a schema or defaults
 * object lists exactly the fields the type names.
 * @example
 * ```ts
 * type Keys = KnownKeys<{ levels: number; [extra: string]: unknown }>; // 'levels'
 * ```
 */
export type KnownKeys<C> = keyof { [K in keyof C as string extends K ? never : number extends K ? never : K]: 0 };

/**
 * One {@link ConfigField} for every declared field of `C` (a config type with an index signature, such as a
 * diffusers config that also lists fields this library does not implement, may declare those extra fields too).
 * @example
 * ```ts
 * const FIELDS: ConfigSchema<{ levels: number }> = { levels: configField.positiveInt() };
 * ```
 */
export type ConfigSchema<C> = { readonly [K in KnownKeys<C>]-?: ConfigField } & { readonly [extra: string]: ConfigField };

/**
 * A default computed from the other fields once they are resolved and valid (e.g. per-coefficient statistics whose
 * length is another field). Create with {@link derivedDefault}.
 * @example
 * ```ts
 * const zeros: DerivedDefault<{ n: number }, number[]> = derivedDefault((c) => new Array(c.n).fill(0));
 * ```
 */
export class DerivedDefault<C, V> {
  constructor(
    /** Computes the default from the resolved config (every other field already filled and validated). */
    readonly derive: (resolved: C) => V,
  ) {}
}

/**
 * A default computed from the resolved values of the other fields (see {@link DerivedDefault}).
 * @example
 * ```ts
 * const defaults = { size: 100, mean: derivedDefault((c: { size: number }) => new Array(c.size).fill(0)) };
 * ```
 */
export function derivedDefault<C, V>(derive: (resolved: C) => V): DerivedDefault<C, V> {
  if (typeof derive !== 'function') throw new ValidationError('derivedDefault', 'derive', 'a function of the resolved config', derive);
  return new DerivedDefault(derive);
}

/**
 * Defaults of a config: a value (or a {@link DerivedDefault}) per field; fields without one must be given, unless the
 * field is optional or fixed.
 * @example
 * ```ts
 * const DEFAULTS: ConfigDefaults<{ levels: number }> = { levels: 3 };
 * ```
 */
export type ConfigDefaults<C> = { readonly [K in KnownKeys<C>]?: C[K] | DerivedDefault<C, C[K]> };

/**
 * Everything {@link resolveConfig} needs to know about one config.
 * @example
 * ```ts
 * const spec: ConfigSpec<{ levels: number }> = { fn: 'resolveFlowConfig', fields: { levels: configField.positiveInt() }, defaults: { levels: 3 } };
 * ```
 */
export interface ConfigSpec<C> {
  /** The public function (or class) named in errors (`'resolveTsdmConfig'`, `'UNet2DConditionModel'`). */
  readonly fn: string;
  readonly fields: ConfigSchema<C>;
  readonly defaults: ConfigDefaults<C>;
  /** Argument name in errors; fields are named `<argument>.<field>`. Default `'config'`. */
  readonly argument?: string;
  /**
   * `'reject'` (default): an unknown key throws, so a JSON round trip is lossless and typos surface. `'ignore'`:
   * unknown keys are dropped (for reference formats that share one file between classes, as diffusers'
   * `scheduler_config.json` does).
   */
  readonly unknownKeys?: 'reject' | 'ignore';
  /**
   * Keys starting with this prefix are metadata, dropped without a check (diffusers writes `_class_name`,
   * `_diffusers_version`, `_name_or_path` into every `config.json`). Default: none.
   */
  readonly metadataPrefix?: string;
}

const sign = (open: boolean | undefined, lower: boolean) => (lower ? (open ? '>' : '≥') : open ? '<' : '≤');

/** The field's expectation in words (`'an integer in [1, 64]'`, `"one of 'l2', 'huber'"`). */
function describe(field: ConfigField): string {
  switch (field.kind) {
    case 'integer': {
      const { min, max } = field;
      if (min !== undefined && max !== undefined) return `an integer in [${min}, ${max}]`;
      if (min === 1) return 'a positive integer';
      if (min === 0) return 'a non-negative integer';
      if (min !== undefined) return `an integer ≥ ${min}`;
      return max !== undefined ? `an integer ≤ ${max}` : 'an integer';
    }
    case 'number': {
      const { min, max } = field;
      if (min !== undefined && max !== undefined) return `a finite number in ${field.minOpen ? '(' : '['}${min}, ${max}${field.maxOpen ? ')' : ']'}`;
      if (min !== undefined) return `a finite number ${sign(field.minOpen, true)} ${min}`;
      return max !== undefined ? `a finite number ${sign(field.maxOpen, false)} ${max}` : 'a finite number';
    }
    case 'boolean':
      return 'true or false';
    case 'oneOf':
      return `one of ${field.values.map((v) => (typeof v === 'string' ? `'${v}'` : String(v))).join(', ')}`;
    case 'array': {
      const { minLength: lo = 0, maxLength: hi } = field;
      const size = lo === hi ? `${lo} values` : hi !== undefined ? `${lo} to ${hi} values` : lo > 0 ? `at least ${lo} value${lo === 1 ? '' : 's'}` : 'values';
      return `a list of ${size} (each ${describe(field.items)})`;
    }
    case 'nullable':
      return `null or ${describe(field.field)}`;
    case 'either':
      return field.fields.map(describe).join(' or ');
    case 'fixed':
      return `${JSON.stringify(field.value)} (${field.reason})`;
    case 'jsonObject':
      return 'a JSON object';
  }
}

function isJsonValue(v: unknown): boolean {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(isJsonValue);
  return isPlainObject(v) && Object.values(v).every(isJsonValue);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function passes(field: ConfigField, value: unknown): boolean {
  try {
    check('', '', field, value);
    return true;
  } catch {
    return false;
  }
}

/** Throws a ValidationError at the most specific path (`config.channels[2]`) that fails. */
function check(fn: string, path: string, field: ConfigField, value: unknown): void {
  const fail = (): never => {
    throw new ValidationError(fn, path, describe(field), value);
  };
  switch (field.kind) {
    case 'integer':
      if (!Number.isInteger(value)) fail();
      if ((field.min !== undefined && (value as number) < field.min) || (field.max !== undefined && (value as number) > field.max)) fail();
      return;
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) fail();
      const v = value as number;
      const { min, max } = field;
      if (min !== undefined && (field.minOpen ? !(v > min) : !(v >= min))) fail();
      if (max !== undefined && (field.maxOpen ? !(v < max) : !(v <= max))) fail();
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') fail();
      return;
    case 'oneOf':
      if ((typeof value !== 'string' && typeof value !== 'number') || !field.values.includes(value)) fail();
      return;
    case 'array': {
      if (!Array.isArray(value)) fail();
      const list = value as unknown[];
      if (list.length < (field.minLength ?? 0) || (field.maxLength !== undefined && list.length > field.maxLength)) fail();
      list.forEach((item, i) => check(fn, `${path}[${i}]`, field.items, item));
      return;
    }
    case 'nullable':
      if (value === null) return;
      // A list checked by a list field gets the item-level message; anything else that fails, the whole description.
      if (Array.isArray(value) && field.field.kind === 'array') check(fn, path, field.field, value);
      else if (!passes(field.field, value)) fail();
      return;
    case 'either': {
      if (field.fields.some((f) => passes(f, value))) return;
      const listField = Array.isArray(value) ? field.fields.find((f) => f.kind === 'array') : undefined;
      if (listField) check(fn, path, listField, value);
      fail();
      return;
    }
    case 'fixed':
      if (value !== field.value) fail();
      return;
    case 'jsonObject':
      if (!isPlainObject(value) || !isJsonValue(value)) fail();
      return;
  }
}

/** A fresh copy of a JSON-like value (arrays and plain objects copied, −0 written as 0). */
function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  return typeof value === 'number' ? value + 0 : value;
}

/**
 * Check one value against a field description; throws a {@link ValidationError} naming `fn` and `argument` (and
 * `argument[i]` for a bad list item). For single arguments and options that are not part of a config object.
 *
 * @param fn - the public function (`'Conv2d'`).
 * @param argument - the argument name (`'inChannels'`, `'options.batchSize'`).
 * @param field - how the value is checked.
 * @param value - the value that came.
 * @example
 * ```ts
 * import { checkConfigField, configField } from '@consistent-avatar/core';
 * checkConfigField('Linear', 'inFeatures', configField.positiveInt(), 0);
 * // throws ValidationError: Linear: argument 'inFeatures' expected a positive integer, got 0
 * ```
 */
export function checkConfigField(fn: string, argument: string, field: ConfigField, value: unknown): void {
  check(fn, argument, field, value);
}

/**
 * Fill in the defaults of a flat config and validate every field (see the module comment).
 *
 * Steps: 1. the input must be a plain object (or undefined: all defaults); 2. unknown keys throw (or are dropped
 * with `unknownKeys: 'ignore'`); 3. each field in schema order takes the input value (an `undefined` value counts
 * as absent) or its default, and is checked; 4. derived defaults are computed from the fields resolved so far and
 * checked; 5. the result is a new object in schema order whose arrays and records are copies (nothing aliases the
 * input or the defaults), so `resolveConfig(spec, JSON.parse(JSON.stringify(resolved)))` equals `resolved`.
 *
 * Cross-field rules (a size divisible by a product of other fields, list lengths equal to another field) are the
 * caller's, checked after this returns, with the same `ValidationError(fn, 'config.<field>', …)`.
 *
 * @param spec - the function name, schema and defaults.
 * @param input - the partial config.
 * @returns the complete config.
 * @example
 * ```ts
 * const spec: ConfigSpec<{ levels: number; polyN: 5 | 7 }> = {
 *   fn: 'resolveFlowConfig',
 *   fields: { levels: configField.positiveInt(), polyN: configField.oneOf([5, 7]) },
 *   defaults: { levels: 3, polyN: 5 },
 * };
 * resolveConfig(spec, { polyN: 7 }); // { levels: 3, polyN: 7 }
 * ```
 */
export function resolveConfig<C>(spec: ConfigSpec<C>, input: unknown): C {
  const { fn, fields } = spec;
  const arg = spec.argument ?? 'config';
  if (input !== undefined && !isPlainObject(input)) throw new ValidationError(fn, arg, 'a config object of named fields', input);
  const source = (input ?? {}) as Record<string, unknown>;
  // 2. Unknown keys.
  const names = Object.keys(fields);
  if ((spec.unknownKeys ?? 'reject') === 'reject') {
    for (const key of Object.keys(source)) {
      if (spec.metadataPrefix && key.startsWith(spec.metadataPrefix)) continue;
      if (!Object.hasOwn(fields, key)) throw new ValidationError(fn, `${arg}.${key}`, `a known field (${names.join(', ')})`, key);
    }
  }
  // 3. Given values and plain defaults, checked in schema order.
  const defaults = spec.defaults as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const derived: Array<[string, DerivedDefault<C, unknown>]> = [];
  for (const name of names) {
    const field = fields[name]!;
    let value = source[name];
    if (value === undefined) {
      value = Object.hasOwn(defaults, name) ? defaults[name] : field.kind === 'fixed' && !field.optional ? field.value : undefined;
    }
    if (value instanceof DerivedDefault) {
      out[name] = undefined; // keeps the schema order; filled in step 4
      derived.push([name, value as DerivedDefault<C, unknown>]);
      continue;
    }
    if (value === undefined) {
      if (field.optional) continue;
      throw new ValidationError(fn, `${arg}.${name}`, describe(field), value);
    }
    check(fn, `${arg}.${name}`, field, value);
    out[name] = copy(value);
  }
  // 4. Derived defaults see every other field resolved and valid.
  for (const [name, d] of derived) {
    const value = d.derive(out as C);
    check(fn, `${arg}.${name}`, fields[name]!, value);
    out[name] = copy(value);
  }
  return out as C;
}

/**
 * Builders of {@link ConfigField}s.
 *
 * - `positiveInt({ max })`, `nonNegativeInt({ max })`, `integer({ min, max })`;
 * - `number({ min, max, minOpen, maxOpen })` (finite; bounds closed unless open), `positiveNumber()` (> 0);
 * - `oneOf(values)` (strings or numbers), `boolean()`;
 * - `array(items, { length, minLength, maxLength })`, `intArray({ min, max, length, minLength, maxLength })`,
 *   `numberArray({ min, max, minOpen, maxOpen, length, minLength, maxLength })`;
 * - `nullable(field)`, `either(...fields)`, `optional(field)`;
 * - `fixed(value, reason)` (the only value implemented), `jsonObject()` (a free-form JSON record).
 *
 * @example
 * ```ts
 * import { configField as f } from '@consistent-avatar/core';
 * const layersPerBlock = f.either(f.positiveInt(), f.intArray({ min: 1, minLength: 1 })); // 2 or [2, 2, 3]
 * const latentsMean = f.nullable(f.numberArray({ length: 4 }));
 * const classEmbed = f.fixed(null, 'class embeddings are not implemented');
 * ```
 */
export const configField = {
  /** An integer ≥ 1 (at most `max`). */
  positiveInt: (options: { max?: number } = {}): IntegerField => ({ kind: 'integer', min: 1, ...options }),
  /** An integer ≥ 0 (at most `max`). */
  nonNegativeInt: (options: { max?: number } = {}): IntegerField => ({ kind: 'integer', min: 0, ...options }),
  /** An integer in `[min, max]` (either bound optional). */
  integer: (options: { min?: number; max?: number } = {}): IntegerField => ({ kind: 'integer', ...options }),
  /** A finite number; bounds are closed unless `minOpen` / `maxOpen`. */
  number: (options: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean } = {}): NumberField => ({ kind: 'number', ...options }),
  /** A finite number > 0. */
  positiveNumber: (): NumberField => ({ kind: 'number', min: 0, minOpen: true }),
  /** One of `values`. */
  oneOf: (values: readonly (string | number)[]): OneOfField => ({ kind: 'oneOf', values: [...values] }),
  /** `true` or `false`. */
  boolean: (): BooleanField => ({ kind: 'boolean' }),
  /** A list of `items`; `length` fixes the length. */
  array: (items: ConfigField, options: { length?: number; minLength?: number; maxLength?: number } = {}): ArrayField => ({
    kind: 'array',
    items,
    minLength: options.length ?? options.minLength,
    maxLength: options.length ?? options.maxLength,
  }),
  /** A list of integers in `[min, max]`. */
  intArray: (options: { min?: number; max?: number; length?: number; minLength?: number; maxLength?: number } = {}): ArrayField =>
    configField.array({ kind: 'integer', min: options.min, max: options.max }, options),
  /** A list of finite numbers within the bounds. */
  numberArray: (
    options: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean; length?: number; minLength?: number; maxLength?: number } = {},
  ): ArrayField => configField.array({ kind: 'number', min: options.min, max: options.max, minOpen: options.minOpen, maxOpen: options.maxOpen }, options),
  /** `null` or a value passing `field`. */
  nullable: (field: ConfigField): NullableField => ({ kind: 'nullable', field }),
  /** A value passing any of `fields`. */
  either: (...fields: ConfigField[]): EitherField => ({ kind: 'either', fields }),
  /** The field may be absent from the resolved config. */
  optional: <F extends ConfigField>(field: F): F => ({ ...field, optional: true }),
  /** Only `value` is accepted; `reason` says why (shown in the error). */
  fixed: (value: ConfigScalar, reason: string): FixedField => ({ kind: 'fixed', value, reason }),
  /** A free-form JSON object. */
  jsonObject: (): JsonObjectField => ({ kind: 'jsonObject' }),
} as const;
