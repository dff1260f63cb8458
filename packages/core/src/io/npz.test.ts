import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '../errors.js';
import { readNpz, writeNpz } from './npz.js';

const IO = fileURLToPath(new URL('../../test/fixtures/io', import.meta.url));
const FLAME = path.join(IO, 'toy_flame_model.npz'); // copy of fixtures/flame/toy_flame_model.npz
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-npz-'));

function sum(data: ArrayLike<number | bigint>): number {
  let s = 0;
  for (let i = 0; i < data.length; i++) s += Number(data[i]!);
  return s;
}

describe('readNpz on the toy FLAME model (numpy savez, ZIP64 members)', () => {
  // Every expected value below was printed by numpy 1.24 (/usr/bin/python3: np.load(...)[key]); sums are float64
  // sums of the flattened array (numpy's pairwise summation), compared to 1e-12 relative.
  const expected: Record<string, { dtype: string; shape: number[]; first: number[]; last: number; sum: number }> = {
    v_template: {
      dtype: 'float64',
      shape: [120, 3],
      first: [0.03587734080039142, 0.15106773081434574, -0.17863312373111823],
      last: -0.049962791416033,
      sum: -1.2121301121774362,
    },
    shapedirs: {
      dtype: 'float64',
      shape: [120, 3, 400],
      first: [0.0027647089050526204, 0.0017205662638670259, 0.0043919349351729435],
      last: -0.0023736376660977903,
      sum: 1.913824764961423,
    },
    posedirs: {
      dtype: 'float64',
      shape: [120, 3, 36],
      first: [0.0023073473692698777, 0.009145697053505956, 0.004553303193481321],
      last: -0.00869477611525478,
      sum: 0.6753285363987511,
    },
    J_regressor: {
      dtype: 'float64',
      shape: [5, 120],
      first: [0.007335235259933621, 0.004657725738954266, 0.004221790922837849],
      last: 0.0017988619536323295,
      sum: 5.0,
    },
    weights: {
      dtype: 'float64',
      shape: [120, 5],
      first: [0.0015514065119836909, 0.014998473694040788, 0.30641927907362243],
      last: 0.003242209595567505,
      sum: 120.0,
    },
    kintree_table: { dtype: 'int64', shape: [2, 5], first: [4294967295, 0, 1], last: 4, sum: 4294967308 },
    f: { dtype: 'uint32', shape: [200, 3], first: [80, 72, 90], last: 10, sum: 35565 },
  };

  it('has every FLAME key with the right dtype, shape and values', () => {
    const model = readNpz(FLAME);
    expect(Object.keys(model).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, e] of Object.entries(expected)) {
      const a = model[name]!;
      expect(a.dtype, name).toBe(e.dtype);
      expect(a.shape, name).toEqual(e.shape);
      expect(a.data.length).toBe(e.shape.reduce((x, y) => x * y, 1));
      expect(Array.from(a.data.subarray(0, 3) as ArrayLike<number | bigint>, Number), name).toEqual(e.first);
      expect(Number(a.data[a.data.length - 1]!), name).toBe(e.last);
      expect(Math.abs(sum(a.data) - e.sum), name).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(e.sum)));
    }
  });

  it('indexes multi-dimensional arrays in C order (values printed by numpy)', () => {
    const { shapedirs, posedirs, f } = readNpz(FLAME);
    // shapedirs[10, 2, 305], posedirs[3, 1, 20], f[5]
    expect(shapedirs!.data[(10 * 3 + 2) * 400 + 305]).toBe(-0.0021429302297991497);
    expect(posedirs!.data[(3 * 3 + 1) * 36 + 20]).toBe(0.012522382818520843);
    expect(Array.from(f!.data.subarray(15, 18) as Uint32Array)).toEqual([22, 63, 15]);
  });

  it('reads only the requested arrays', () => {
    const only = readNpz(FLAME, { names: ['f', 'kintree_table'] });
    expect(Object.keys(only).sort()).toEqual(['f', 'kintree_table']);
    expect(() => readNpz(FLAME, { names: ['missing'] })).toThrow(ValidationError);
  });
});

describe('readNpz stored and deflated members (numpy savez / savez_compressed)', () => {
  // weights = arange(12, float32).reshape(3, 4) / 7 as printed by numpy; faces int64; fort Fortran-ordered float64
  const weights = [
    0.0, 0.1428571492433548, 0.2857142984867096, 0.4285714328289032, 0.5714285969734192, 0.7142857313156128,
    0.8571428656578064, 1.0, 1.1428571939468384, 1.2857142686843872, 1.4285714626312256, 1.5714285373687744,
  ];
  for (const file of ['stored.npz', 'deflated.npz']) {
    it(file, () => {
      const arrays = readNpz(path.join(IO, 'npy', file));
      expect(arrays.weights!.shape).toEqual([3, 4]);
      expect(Array.from(arrays.weights!.data as Float32Array)).toEqual(weights);
      expect(arrays.faces!.dtype).toBe('int64');
      expect(Array.from(arrays.faces!.data as BigInt64Array)).toEqual([0n, 1n, 2n, 2n, 3n, 0n]);
      expect(arrays.fort!.fortranOrder).toBe(true);
      expect(Array.from(arrays.fort!.data as Float64Array)).toEqual([0, 1, 2, 3, 4, 5]);
    });
  }

  it('round-trips through writeNpz, stored and compressed', () => {
    const arrays = {
      a: { dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4.5]) },
      b: { dtype: 'int32' as const, shape: [3], data: new Int32Array([-1, 0, 1]) },
    };
    for (const compress of [false, true]) {
      const file = path.join(tmp, `rt-${compress}.npz`);
      writeNpz(file, arrays, { compress });
      const back = readNpz(file);
      expect(Array.from(back.a!.data as Float32Array)).toEqual([1, 2, 3, 4.5]);
      expect(back.b!.shape).toEqual([3]);
      expect(Array.from(back.b!.data as Int32Array)).toEqual([-1, 0, 1]);
    }
  });

  it('skips members that are not .npy files', () => {
    const npy = fs.readFileSync(path.join(IO, 'npy', 'c_i4_7.npy'));
    const arrays = readNpz(zipSync({ 'a.npy': npy, 'notes.txt': new Uint8Array([65]) }));
    expect(Object.keys(arrays)).toEqual(['a']);
    expect(Array.from(arrays.a!.data as Int32Array)).toEqual([0, -3, -6, -9, -12, -15, -18]);
  });
});

describe('readNpz malformed archives', () => {
  function expectNpzError(source: Uint8Array | string, pattern: RegExp): void {
    let caught: unknown;
    try {
      readNpz(source);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).format).toBe('npz');
    expect((caught as Error).message).toMatch(pattern);
  }
  it('not a ZIP file', () => {
    expectNpzError(new Uint8Array(Buffer.from('\x93NUMPY this is an npy, not an npz')), /not a readable ZIP/);
  });
  it('truncated archive (central directory cut off)', () => {
    const bytes = fs.readFileSync(path.join(IO, 'npy', 'deflated.npz'));
    expectNpzError(bytes.subarray(0, bytes.length - 40), /not a readable ZIP/);
  });
  it('a member that is not a valid .npy names the member', () => {
    const good = fs.readFileSync(path.join(IO, 'npy', 'c_i4_7.npy'));
    const bytes = zipSync({ 'good.npy': good, 'bad.npy': new Uint8Array([1, 2, 3]) }, { level: 0 });
    expectNpzError(bytes, /<buffer>:bad\.npy: missing the \\x93NUMPY magic/);
  });
  it('a member with truncated data', () => {
    const whole = fs.readFileSync(path.join(IO, 'npy', 'c_f4_2x3.npy'));
    expectNpzError(zipSync({ 'cut.npy': whole.subarray(0, whole.length - 4) }), /cut\.npy: data truncated/);
  });
  it('a missing file', () => {
    expectNpzError(path.join(tmp, 'nope.npz'), /cannot read/);
  });
});
