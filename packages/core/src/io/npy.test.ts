import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '../errors.js';
import { encodeNpy, readNpy, writeNpy } from './npy.js';

// Files written by numpy 1.24 (Debian python3-numpy); how they were made: test/fixtures/io/npy/README.md.
const NPY = fileURLToPath(new URL('../../test/fixtures/io/npy', import.meta.url));
const fixture = (name: string) => path.join(NPY, name);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-npy-'));

/** base[i, j, k] = (12 i + 4 j + k) · 0.5 − 3.25, the array the generator script saved (numpy's C order). */
const base = Array.from({ length: 24 }, (_, n) => n * 0.5 - 3.25);

/** A .npy file built by hand from a header string and data bytes. */
function npyBytes(header: string, data: Uint8Array = new Uint8Array(0), version = 1): Uint8Array {
  const prefix = version === 1 ? 10 : 12;
  const h = Buffer.from(header, 'latin1');
  const out = new Uint8Array(prefix + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const view = new DataView(out.buffer);
  if (version === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, prefix);
  out.set(data, prefix + h.length);
  return out;
}

function expectNpyError(bytes: Uint8Array, pattern: RegExp): void {
  let caught: unknown;
  try {
    readNpy(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FormatError);
  expect((caught as FormatError).format).toBe('npy');
  expect((caught as Error).message).toMatch(pattern);
}

describe('readNpy on numpy-written files', () => {
  it('Fortran-order float32 comes back in C order', () => {
    const a = readNpy(fixture('fortran_f4_2x3x4.npy'));
    expect(a.dtype).toBe('float32');
    expect(a.shape).toEqual([2, 3, 4]);
    expect(a.fortranOrder).toBe(true);
    expect(a.data).toBeInstanceOf(Float32Array);
    expect(Array.from(a.data as Float32Array)).toEqual(base);
  });

  it('big-endian float64 and int32', () => {
    const f = readNpy(fixture('bigendian_f8_2x3x4.npy'));
    expect(f.dtype).toBe('float64');
    expect(f.shape).toEqual([2, 3, 4]);
    expect(Array.from(f.data as Float64Array)).toEqual(base);
    const i = readNpy(fixture('bigendian_i4_3x4.npy'));
    expect(i.dtype).toBe('int32');
    expect(Array.from(i.data as Int32Array)).toEqual(Array.from({ length: 12 }, (_, n) => n * -100000 + 7));
  });

  it('Fortran-order big-endian int16', () => {
    const a = readNpy(fixture('fortran_bigendian_i2_3x5.npy'));
    expect(a.shape).toEqual([3, 5]);
    expect(a.fortranOrder).toBe(true);
    expect(Array.from(a.data as Int16Array)).toEqual(Array.from({ length: 15 }, (_, n) => n * 1000 - 7000));
  });

  it('format versions 2.0 and 3.0', () => {
    const v2 = readNpy(fixture('v2_u2_2x3.npy'));
    expect(v2.dtype).toBe('uint16');
    expect(Array.from(v2.data as Uint16Array)).toEqual([0, 10000, 20000, 30000, 40000, 50000]);
    const v3 = readNpy(fixture('v3_u4_2x3.npy'));
    expect(v3.dtype).toBe('uint32');
    expect(v3.shape).toEqual([2, 3]);
    // values printed by numpy (n · 10^9 in uint32 arithmetic, so 5e9 wrapped)
    expect(Array.from(v3.data as Uint32Array)).toEqual([0, 1000000000, 2000000000, 3000000000, 4000000000, 705032704]);
  });

  it('bool, int8, uint8, int64, float16 and 0-d arrays', () => {
    expect(Array.from(readNpy(fixture('bool_5.npy')).data as Uint8Array)).toEqual([1, 0, 1, 1, 0]);
    expect(readNpy(fixture('bool_5.npy')).dtype).toBe('bool');
    expect(Array.from(readNpy(fixture('int8_3.npy')).data as Int8Array)).toEqual([-128, 0, 127]);
    const u8 = readNpy(fixture('uint8_2x2.npy'));
    expect(u8.shape).toEqual([2, 2]);
    expect(Array.from(u8.data as Uint8Array)).toEqual([0, 255, 17, 128]);
    const i64 = readNpy(fixture('int64_4.npy'));
    expect(Array.from(i64.data as BigInt64Array)).toEqual([-(2n ** 40n), -1n, 0n, 2n ** 62n]);
    const f16 = readNpy(fixture('float16_4.npy'));
    expect(f16.dtype).toBe('float16');
    // float16(0.1) widened to float32 is 0.0999755859375 (printed by numpy)
    expect(Array.from(f16.data as Float32Array)).toEqual([1, -2.5, 65504, 0.0999755859375]);
    const scalar = readNpy(fixture('scalar_f8.npy'));
    expect(scalar.shape).toEqual([]);
    expect(Array.from(scalar.data as Float64Array)).toEqual([2.718281828459045]);
  });
});

describe('encodeNpy / writeNpy', () => {
  it('writes the same bytes as numpy.save', () => {
    for (const name of ['c_f4_2x3.npy', 'c_i4_7.npy', 'scalar_f8.npy', 'bool_5.npy', 'uint8_2x2.npy', 'int8_3.npy', 'int64_4.npy']) {
      const original = fs.readFileSync(fixture(name));
      const encoded = encodeNpy(readNpy(original));
      expect(Buffer.compare(Buffer.from(encoded), original), name).toBe(0);
    }
  });

  it('round-trips float32 / float64 / int32 through a file', () => {
    const file = path.join(tmp, 'rt.npy');
    const arrays = [
      { dtype: 'float32' as const, shape: [2, 2], data: new Float32Array([1.5, -2, 3, 1e-8]) },
      { dtype: 'float64' as const, shape: [3], data: new Float64Array([Math.PI, -0, 1e300]) },
      { dtype: 'int32' as const, shape: [1, 2], data: new Int32Array([-2147483648, 2147483647]) },
      { dtype: 'float32' as const, shape: [0, 4], data: new Float32Array(0) },
    ];
    for (const a of arrays) {
      writeNpy(file, a);
      const back = readNpy(file);
      expect(back.dtype).toBe(a.dtype);
      expect(back.shape).toEqual(a.shape);
      expect(back.fortranOrder).toBe(false);
      expect(Array.from(back.data as ArrayLike<number>)).toEqual(Array.from(a.data));
      // data starts at a multiple of 64 bytes, as numpy aligns it
      expect((fs.statSync(file).size - a.data.byteLength) % 64).toBe(0);
    }
  });

  it('switches to format 2.0 when the header does not fit a u16', () => {
    // A 30000-dimensional shape makes a header of ~90 kB.
    const shape = new Array(30000).fill(1);
    const bytes = encodeNpy({ dtype: 'float32', shape, data: new Float32Array([7]) });
    expect(bytes[6]).toBe(2);
    const back = readNpy(bytes);
    expect(back.shape).toHaveLength(30000);
    expect(Array.from(back.data as Float32Array)).toEqual([7]);
  });

  it('validates its arguments', () => {
    expect(() => encodeNpy({ dtype: 'float32', shape: [2], data: new Float64Array(2) })).toThrow(ValidationError);
    expect(() => encodeNpy({ dtype: 'float32', shape: [3], data: new Float32Array(2) })).toThrow(/3 elements/);
    expect(() => encodeNpy({ dtype: 'float16', shape: [1], data: new Float32Array(1) })).toThrow(ValidationError);
    expect(() => encodeNpy({ dtype: 'float32', shape: [1], data: new Float32Array(1), fortranOrder: true })).toThrow(
      ValidationError,
    );
    expect(() => readNpy(42 as never)).toThrow(ValidationError);
  });
});

describe('readNpy malformed files (one test per case)', () => {
  const header = (descr: string, shape: string, fortran = 'False') =>
    `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }\n`;

  it('accepts the hand-built baseline', () => {
    const a = readNpy(npyBytes(header('<i2', '(2,)'), new Uint8Array([1, 0, 255, 255])));
    expect(Array.from(a.data as Int16Array)).toEqual([1, -1]);
  });
  it('missing magic string', () => {
    expectNpyError(new Uint8Array(Buffer.from('PK\x03\x04 not numpy at all')), /magic/);
  });
  it('unsupported version', () => {
    const bytes = npyBytes(header('<f4', '()'), new Uint8Array(4));
    bytes[6] = 9;
    expectNpyError(bytes, /unsupported format version 9\.0/);
  });
  it('header length beyond the file', () => {
    const bytes = npyBytes(header('<f4', '()'), new Uint8Array(4));
    new DataView(bytes.buffer).setUint16(8, 60000, true);
    expectNpyError(bytes, /header length 60000 is larger/);
  });
  it('unparsable header', () => {
    expectNpyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }"), /header/);
    expectNpyError(npyBytes("{'descr': '<f4' @}"), /header/);
  });
  it('header not a dict', () => {
    expectNpyError(npyBytes('(1, 2)\n'), /not a dict/);
  });
  it('structured dtype', () => {
    expectNpyError(npyBytes("{'descr': [('x', '<f4'), ('y', '<i4')], 'fortran_order': False, 'shape': (1,), }"), /structured/);
  });
  it('unsupported dtype (complex, object)', () => {
    expectNpyError(npyBytes(header('<c8', '(1,)'), new Uint8Array(8)), /unsupported dtype '<c8'/);
    expectNpyError(npyBytes(header('|O', '(1,)'), new Uint8Array(8)), /unsupported dtype '\|O'/);
  });
  it('fortran_order missing or not a bool', () => {
    expectNpyError(npyBytes("{'descr': '<f4', 'shape': (1,), }", new Uint8Array(4)), /fortran_order/);
    expectNpyError(npyBytes(header('<f4', '(1,)', '1'), new Uint8Array(4)), /fortran_order/);
  });
  it('shape not a tuple of non-negative integers', () => {
    expectNpyError(npyBytes(header('<f4', '(-1,)'), new Uint8Array(4)), /shape/);
    expectNpyError(npyBytes(header('<f4', "('a',)"), new Uint8Array(4)), /shape/);
  });
  it('truncated data', () => {
    expectNpyError(npyBytes(header('<f8', '(2, 3)'), new Uint8Array(40)), /truncated: shape \[2,3\] of <f8 needs 48 bytes, file has 40/);
  });
  it('a truncated numpy file on disk names the file', () => {
    const file = path.join(tmp, 'cut.npy');
    fs.writeFileSync(file, fs.readFileSync(fixture('bigendian_f8_2x3x4.npy')).subarray(0, 200));
    expect(() => readNpy(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: data truncated`));
  });
});
