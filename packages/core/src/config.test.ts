import { describe, expect, it } from 'vitest';
import { checkConfigField, configField as f, derivedDefault, resolveConfig, type ConfigSchema, type ConfigSpec } from './config.js';
import { ValidationError } from './errors.js';

interface Toy {
  size: number;
  steps: number;
  rate: number;
  ratio: number;
  mode: 'l2' | 'huber';
  polyN: 5 | 7;
  clip: boolean;
  channels: number[];
  blocks: number | number[];
  betas: number[] | null;
  stats: number[];
  classEmbed: null;
  training?: Record<string, unknown>;
}

const FIELDS: ConfigSchema<Toy> = {
  size: f.positiveInt({ max: 2048 }),
  steps: f.nonNegativeInt(),
  rate: f.positiveNumber(),
  ratio: f.number({ min: 0, max: 1, minOpen: true, maxOpen: true }),
  mode: f.oneOf(['l2', 'huber']),
  polyN: f.oneOf([5, 7]),
  clip: f.boolean(),
  channels: f.intArray({ min: 1, minLength: 1 }),
  blocks: f.either(f.positiveInt(), f.intArray({ min: 1, minLength: 1 })),
  betas: f.nullable(f.numberArray({ min: 0, max: 1 })),
  stats: f.numberArray(),
  classEmbed: f.fixed(null, 'class embeddings are not implemented'),
  training: f.optional(f.jsonObject()),
};
const SPEC: ConfigSpec<Toy> = {
  fn: 'resolveToyConfig',
  fields: FIELDS,
  defaults: {
    size: 32, steps: 0, rate: 1e-3, ratio: 0.5, mode: 'l2', polyN: 5, clip: false, channels: [8, 16], blocks: 1, betas: null,
    stats: derivedDefault((c: Toy) => new Array<number>(c.channels.length).fill(0)),
  },
};
const resolve = (partial: unknown) => resolveConfig(SPEC, partial);

/** The error a call throws (fails the test when it does not throw). */
function errorOf(call: () => unknown): ValidationError {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('resolveConfig', () => {
  it('fills defaults (derived ones from the resolved fields) in schema order and omits absent optional fields', () => {
    const c = resolve({ channels: [4, 8, 16], steps: 3 });
    expect(c).toEqual({
      size: 32, steps: 3, rate: 1e-3, ratio: 0.5, mode: 'l2', polyN: 5, clip: false, channels: [4, 8, 16], blocks: 1, betas: null,
      stats: [0, 0, 0], classEmbed: null,
    });
    expect(Object.keys(c)).toEqual(['size', 'steps', 'rate', 'ratio', 'mode', 'polyN', 'clip', 'channels', 'blocks', 'betas', 'stats', 'classEmbed']);
    expect(resolve(undefined).stats).toEqual([0, 0]);
    expect(resolve({ size: undefined }).size).toBe(32); // undefined counts as absent
  });

  it('round-trips through JSON and never aliases the input or the defaults', () => {
    const input = { channels: [4, 8], betas: [0.1, 0.2], blocks: [1, 2], training: { steps: 10, log: [1, 2], note: null }, ratio: 0.25 };
    const c = resolve(input);
    expect(resolve(JSON.parse(JSON.stringify(c)))).toEqual(c);
    input.channels.push(99);
    input.training.log.push(3);
    expect(c.channels).toEqual([4, 8]);
    expect(c.training).toEqual({ steps: 10, log: [1, 2], note: null });
    c.channels.push(5);
    expect(resolve({}).channels).toEqual([8, 16]);
    expect(Object.is(resolve({ steps: -0 }).steps, 0)).toBe(true); // -0 would come back from JSON as 0
  });

  it('names the function, the field, what was expected and what came', () => {
    const cases: Array<[unknown, string]> = [
      [{ size: 0 }, "resolveToyConfig: argument 'config.size' expected an integer in [1, 2048], got 0"],
      [{ size: 2049 }, "argument 'config.size' expected an integer in [1, 2048], got 2049"],
      [{ size: 2.5 }, "argument 'config.size' expected an integer in [1, 2048], got 2.5"],
      [{ steps: -1 }, "argument 'config.steps' expected a non-negative integer, got -1"],
      [{ rate: 0 }, "argument 'config.rate' expected a finite number > 0, got 0"],
      [{ rate: Number.NaN }, "argument 'config.rate' expected a finite number > 0, got NaN"],
      [{ rate: Infinity }, "argument 'config.rate' expected a finite number > 0, got Infinity"],
      [{ rate: '1' }, 'argument \'config.rate\' expected a finite number > 0, got "1"'],
      [{ ratio: 1 }, "argument 'config.ratio' expected a finite number in (0, 1), got 1"],
      [{ ratio: 0 }, "argument 'config.ratio' expected a finite number in (0, 1), got 0"],
      [{ mode: 'l1' }, 'argument \'config.mode\' expected one of \'l2\', \'huber\', got "l1"'],
      [{ polyN: 6 }, "argument 'config.polyN' expected one of 5, 7, got 6"],
      [{ polyN: '5' }, 'argument \'config.polyN\' expected one of 5, 7, got "5"'],
      [{ clip: 1 }, "argument 'config.clip' expected true or false, got 1"],
      [{ channels: [] }, "argument 'config.channels' expected a list of at least 1 value (each a positive integer), got array(0)"],
      [{ channels: [4, 0] }, "argument 'config.channels[1]' expected a positive integer, got 0"],
      [{ channels: 4 }, "argument 'config.channels' expected a list of at least 1 value (each a positive integer), got 4"],
      [{ blocks: 0 }, "argument 'config.blocks' expected a positive integer or a list of at least 1 value (each a positive integer), got 0"],
      [{ blocks: [1, -2] }, "argument 'config.blocks[1]' expected a positive integer, got -2"],
      [{ betas: [0.1, 2] }, "argument 'config.betas[1]' expected a finite number in [0, 1], got 2"],
      [{ betas: 0.1 }, "argument 'config.betas' expected null or a list of values (each a finite number in [0, 1]), got 0.1"],
      [{ stats: [1, 2, 3] }, ''], // the caller's cross-field rule, not the schema's: accepted here
      [{ classEmbed: 'timestep' }, 'argument \'config.classEmbed\' expected null (class embeddings are not implemented), got "timestep"'],
      [{ training: [1] }, "argument 'config.training' expected a JSON object, got array(1)"],
      [{ training: { lr: Infinity } }, "argument 'config.training' expected a JSON object, got Object"],
      [{ sise: 3 }, 'argument \'config.sise\' expected a known field (size, steps, rate, ratio, mode, polyN, clip, channels, blocks, betas, stats, classEmbed, training), got "sise"'],
      [null, "resolveToyConfig: argument 'config' expected a config object of named fields, got null"],
      [[1], "argument 'config' expected a config object of named fields, got array(1)"],
    ];
    for (const [input, message] of cases) {
      if (message === '') {
        expect(() => resolve(input)).not.toThrow();
        continue;
      }
      const e = errorOf(() => resolve(input));
      expect(e.message).toContain(message);
      expect(e.fn).toBe('resolveToyConfig');
    }
  });

  it('checks derived defaults and requires fields that have no default', () => {
    const bad: ConfigSpec<{ n: number; mean: number[] }> = {
      fn: 'resolveBad',
      fields: { n: f.positiveInt(), mean: f.numberArray({ minLength: 1 }) },
      defaults: { n: 2, mean: derivedDefault((c: { n: number }) => new Array<number>(c.n - 2).fill(0)) },
    };
    expect(errorOf(() => resolveConfig(bad, {})).message).toContain("resolveBad: argument 'config.mean' expected a list of at least 1 value");
    expect(resolveConfig(bad, { n: 3 }).mean).toEqual([0]);
    const required: ConfigSpec<{ n: number }> = { fn: 'resolveRequired', fields: { n: f.positiveInt() }, defaults: {} };
    expect(errorOf(() => resolveConfig(required, {})).message).toBe("resolveRequired: argument 'config.n' expected a positive integer, got undefined");
    expect(() => derivedDefault(3 as never)).toThrow(/derivedDefault: argument 'derive'/);
  });

  it("unknownKeys 'ignore' drops unknown keys; a custom argument name is used in messages", () => {
    const spec: ConfigSpec<{ steps: number }> = { fn: 'DDIMScheduler', fields: { steps: f.positiveInt() }, defaults: { steps: 10 }, unknownKeys: 'ignore', argument: 'options' };
    expect(resolveConfig(spec, { steps: 4, skip_prk_steps: true, _class_name: 'PNDMScheduler' })).toEqual({ steps: 4 });
    expect(errorOf(() => resolveConfig(spec, { steps: 0 })).message).toBe("DDIMScheduler: argument 'options.steps' expected a positive integer, got 0");
  });
});

describe('checkConfigField', () => {
  it('checks one argument with the same descriptions', () => {
    expect(() => checkConfigField('Linear', 'inFeatures', f.positiveInt(), 3)).not.toThrow();
    expect(errorOf(() => checkConfigField('Linear', 'inFeatures', f.positiveInt(), 0)).message).toBe("Linear: argument 'inFeatures' expected a positive integer, got 0");
    expect(errorOf(() => checkConfigField('fit', 'options.lr', f.number({ max: 1, maxOpen: true }), 1)).message).toBe("fit: argument 'options.lr' expected a finite number < 1, got 1");
    expect(errorOf(() => checkConfigField('fit', 'options.seed', f.integer(), 0.5)).message).toBe("fit: argument 'options.seed' expected an integer, got 0.5");
    expect(errorOf(() => checkConfigField('fit', 'x', f.integer({ min: 2 }), 1)).message).toContain('expected an integer ≥ 2');
    expect(errorOf(() => checkConfigField('fit', 'x', f.integer({ max: 2 }), 3)).message).toContain('expected an integer ≤ 2');
    expect(errorOf(() => checkConfigField('fit', 'x', f.intArray({ length: 4, min: 1 }), [1, 1, 1])).message).toContain('expected a list of 4 values (each a positive integer)');
    expect(errorOf(() => checkConfigField('fit', 'x', f.array(f.oneOf(['a']), { minLength: 1, maxLength: 2 }), ['a', 'a', 'a'])).message).toContain("expected a list of 1 to 2 values (each one of 'a')");
  });
});

describe('resolveConfig metadataPrefix', () => {
  it('drops keys with the metadata prefix unchecked, still rejects other unknown keys', () => {
    const spec = { fn: 'fn', fields: { a: f.positiveInt() }, defaults: { a: 1 }, metadataPrefix: '_' };
    expect(resolveConfig<{ a: number }>(spec, { a: 2, _class_name: 'X', _diffusers_version: '0.30' })).toEqual({ a: 2 });
    expect(() => resolveConfig<{ a: number }>(spec, { a: 2, b: 1 })).toThrow(/config.b/);
    expect(() => resolveConfig<{ a: number }>({ ...spec, metadataPrefix: undefined }, { _class_name: 'X' })).toThrow(/config._class_name/);
  });
});
