import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../backend/tf.js';
import { initBackend } from '../backend/init.js';
import { FormatError, ValidationError } from '../errors.js';
import {
  SAFETENSORS_MAX_HEADER_BYTES,
  encodeSafetensors,
  inspectSafetensors,
  loadSafetensorsAsTensors,
  readSafetensors,
  tensorsFromSafetensors,
  writeSafetensors,
} from './safetensors.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/io', import.meta.url));
const UNET = path.join(FIXTURES, 'unet-model.safetensors'); // copy of fixtures/models/unet/model.safetensors
const LPIPS_GZ = path.join(FIXTURES, 'lpips-alex-model.safetensors.gz'); // copy of fixtures/lpips/alex/

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-safetensors-'));

beforeAll(async () => {
  await initBackend('cpu');
});

/** Build a safetensors file by hand: header JSON (object or raw string) + data bytes, with a chosen length field. */
function build(header: unknown, data: Uint8Array = new Uint8Array(0), lengthField?: bigint): Uint8Array {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, lengthField ?? BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

function expectFormatError(bytes: Uint8Array, pattern: RegExp): void {
  let caught: unknown;
  try {
    readSafetensors(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(FormatError);
  expect((caught as FormatError).format).toBe('safetensors');
  expect((caught as FormatError).file).toBe('<buffer>');
  expect((caught as Error).message).toMatch(pattern);
}

const f32 = (shape: number[], begin: number) => ({
  dtype: 'F32',
  shape,
  data_offsets: [begin, begin + 4 * shape.reduce((a, b) => a * b, 1)],
});

describe('safetensors round trips', () => {
  it('writes and reads back F32 / I32 / BOOL tensors and metadata', () => {
    const file = path.join(tmp, 'rt.safetensors');
    const a = tf.tensor2d([
      [1.5, -2, 3],
      [4, 5, 6.25],
    ]);
    const b = tf.tensor1d([7, -8, 2147483647], 'int32');
    const c = tf.tensor1d([true, false, true], 'bool');
    const s = tf.scalar(3.25);
    writeSafetensors(file, { 'w.a': a, 'w.b': b, 'w.c': c, scalar: s }, { format: 'pt', note: 'x' });
    const { tensors, metadata } = readSafetensors(file);
    expect(metadata).toEqual({ format: 'pt', note: 'x' });
    expect(tensors['w.a']!.dtype).toBe('F32');
    expect(tensors['w.a']!.shape).toEqual([2, 3]);
    expect(Array.from(tensors['w.a']!.data as Float32Array)).toEqual([1.5, -2, 3, 4, 5, 6.25]);
    expect(tensors['w.b']!.dtype).toBe('I32');
    expect(Array.from(tensors['w.b']!.data as Int32Array)).toEqual([7, -8, 2147483647]);
    expect(tensors['w.c']!.dtype).toBe('BOOL');
    expect(Array.from(tensors['w.c']!.data as Uint8Array)).toEqual([1, 0, 1]);
    expect(tensors.scalar!.shape).toEqual([]);

    const loaded = loadSafetensorsAsTensors(file);
    expect(loaded['w.a']!.dtype).toBe('float32');
    expect(loaded['w.b']!.dtype).toBe('int32');
    expect(loaded['w.c']!.dtype).toBe('bool');
    expect(loaded['w.a']!.arraySync()).toEqual(a.arraySync());
    expect(loaded['w.c']!.arraySync()).toEqual(c.arraySync()); // tfjs reports bool values as 1 / 0
    expect(Array.from(loaded['w.c']!.dataSync())).toEqual([1, 0, 1]);
    tf.dispose([a, b, c, s, ...Object.values(loaded)]);
    // no temporary files left behind
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
  });

  it('round-trips raw typed arrays of every integer/float dtype and zero-sized tensors', () => {
    const tensors = {
      f64: { dtype: 'F64' as const, shape: [2], data: new Float64Array([Math.PI, -1e300]) },
      i64: { dtype: 'I64' as const, shape: [2], data: new BigInt64Array([-(2n ** 62n), 5n]) },
      u64: { dtype: 'U64' as const, shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
      u32: { dtype: 'U32' as const, shape: [1], data: new Uint32Array([4294967295]) },
      i16: { dtype: 'I16' as const, shape: [3], data: new Int16Array([-32768, 0, 32767]) },
      u16: { dtype: 'U16' as const, shape: [1], data: new Uint16Array([65535]) },
      i8: { dtype: 'I8' as const, shape: [2], data: new Int8Array([-128, 127]) },
      u8: { dtype: 'U8' as const, shape: [2, 1], data: new Uint8Array([0, 255]) },
      empty: { dtype: 'F32' as const, shape: [0, 3], data: new Float32Array(0) },
    };
    const { tensors: back } = readSafetensors(encodeSafetensors(tensors));
    for (const [name, t] of Object.entries(tensors)) {
      expect(back[name]!.dtype).toBe(t.dtype);
      expect(back[name]!.shape).toEqual(t.shape);
      expect(Array.from(back[name]!.data as ArrayLike<unknown>)).toEqual(Array.from(t.data as ArrayLike<unknown>));
    }
  });

  it('decodes F16 and BF16 (raw bits) to float32, including subnormals, -0, Inf and NaN', () => {
    // float16 bit patterns: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, +Inf, NaN, 0.333251953125
    const half = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x7e00, 0x3555]);
    // bfloat16 = upper 16 bits of float32: 1, -2, 3.140625 (0x4049), 1e38-ish (0x7e96), -Inf
    const bf = new Uint16Array([0x3f80, 0xc000, 0x4049, 0x7e96, 0xff80]);
    const bytes = encodeSafetensors({
      h: { dtype: 'F16', shape: [8], data: half },
      b: { dtype: 'BF16', shape: [5], data: bf },
    });
    const { tensors } = readSafetensors(bytes);
    const h = tensors.h!.data as Float32Array;
    expect(tensors.h!.dtype).toBe('F16');
    expect(Array.from(h.subarray(0, 4))).toEqual([1, -2, 65504, 2 ** -24]);
    expect(Object.is(h[4], -0)).toBe(true);
    expect(h[5]).toBe(Infinity);
    expect(Number.isNaN(h[6])).toBe(true);
    expect(h[7]).toBe(0.333251953125);
    const b = tensors.b!.data as Float32Array;
    const expected = new Float32Array(new Uint32Array([0x3f800000, 0xc0000000, 0x40490000, 0x7e960000, 0xff800000]).buffer);
    expect(Array.from(b)).toEqual(Array.from(expected));
    const loaded = loadSafetensorsAsTensors(bytes);
    expect(loaded.h!.dtype).toBe('float32');
    expect(loaded.b!.dtype).toBe('float32');
    tf.dispose(Object.values(loaded));
  });

  it('loads I64 as int32 when it fits and refuses values outside int32', () => {
    const ok = encodeSafetensors({ i: { dtype: 'I64', shape: [2], data: new BigInt64Array([-5n, 2147483647n]) } });
    const t = loadSafetensorsAsTensors(ok);
    expect(t.i!.dtype).toBe('int32');
    expect(t.i!.arraySync()).toEqual([-5, 2147483647]);
    t.i!.dispose();
    const bad = encodeSafetensors({ i: { dtype: 'I64', shape: [1], data: new BigInt64Array([2n ** 40n]) } });
    const before = tf.memory().numTensors;
    expect(() => loadSafetensorsAsTensors(bad)).toThrow(/outside the int32 range/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('tensorsFromSafetensors converts already-read entries with the same dtype rules and names the label', () => {
    const { tensors } = readSafetensors(encodeSafetensors({ i: { dtype: 'I64', shape: [2], data: new BigInt64Array([3n, -4n]) }, f: tf.tensor1d([0.5, 2]) }));
    const t = tensorsFromSafetensors(tensors);
    expect(t.i!.dtype).toBe('int32');
    expect(t.i!.arraySync()).toEqual([3, -4]);
    expect(t.f!.arraySync()).toEqual([0.5, 2]);
    tf.dispose(Object.values(t));
    const big = { i: { dtype: 'I64' as const, shape: [1], data: new BigInt64Array([2n ** 40n]) } };
    expect(() => tensorsFromSafetensors(big, 'mine.safetensors')).toThrow(/safetensors file mine.safetensors: tensor 'i' \(I64\)/);
    expect(() => tensorsFromSafetensors(null as never)).toThrow(/tensorsFromSafetensors: argument 'tensors'/);
    expect(() => tensorsFromSafetensors({ x: { shape: [1] } } as never)).toThrow(/tensorsFromSafetensors: argument 'tensors\['x'\]'/);
  });

  it('reads only the requested names and rejects unknown ones', () => {
    const bytes = encodeSafetensors({ a: tf.ones([2]), b: tf.zeros([3]) });
    const { tensors } = readSafetensors(bytes, { names: ['b'] });
    expect(Object.keys(tensors)).toEqual(['b']);
    expect(() => readSafetensors(bytes, { names: ['nope'] })).toThrow(ValidationError);
  });

  it('orders tensors like the reference writer: widest dtype first, then by name; header padded to 8', () => {
    const bytes = encodeSafetensors({
      z: { dtype: 'U8', shape: [3], data: new Uint8Array([1, 2, 3]) },
      b: tf.zeros([1]),
      a: tf.zeros([1], 'int32'),
      d: { dtype: 'F64', shape: [1], data: new Float64Array([1]) },
    });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8'));
    expect(Object.keys(header)).toEqual(['d', 'b', 'a', 'z']);
    expect(header.d.data_offsets).toEqual([0, 8]);
    expect(header.z.data_offsets).toEqual([16, 19]);
  });

  it('validates writer arguments', () => {
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float64Array(2) } as never })).toThrow(
      ValidationError,
    );
    expect(() => encodeSafetensors({ x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/3 elements/);
    expect(() => encodeSafetensors({ __metadata__: tf.zeros([1]) })).toThrow(ValidationError);
    expect(() => encodeSafetensors({ x: tf.zeros([1]) }, { a: 1 } as never)).toThrow(ValidationError);
    const disposed = tf.zeros([1]);
    disposed.dispose();
    expect(() => encodeSafetensors({ x: disposed })).toThrow(/not disposed/);
  });
});

describe('safetensors malformed files (one test per case)', () => {
  const good = () => build({ a: f32([2], 0) }, new Uint8Array(8));

  it('accepts the well-formed baseline', () => {
    expect(readSafetensors(good()).tensors.a!.shape).toEqual([2]);
  });
  it('file shorter than the 8-byte length field', () => {
    expectFormatError(new Uint8Array(5), /shorter than the 8-byte header length/);
  });
  it('header length 0', () => {
    expectFormatError(build('', new Uint8Array(0), 0n), /header length is 0/);
  });
  it('header length larger than the file', () => {
    expectFormatError(build({ a: f32([2], 0) }, new Uint8Array(8), 5000n), /larger than the rest of the file/);
  });
  it('header length above the cap', () => {
    expectFormatError(build({}, new Uint8Array(0), BigInt(SAFETENSORS_MAX_HEADER_BYTES) + 1n), /exceeds the cap/);
    expectFormatError(build({}, new Uint8Array(0), 2n ** 63n), /exceeds the cap/);
  });
  it('header not valid JSON', () => {
    expectFormatError(build('{"a": {"dtype": "F32",', new Uint8Array(0)), /not valid JSON/);
  });
  it('header not valid UTF-8', () => {
    const bytes = build('{"a":1}');
    bytes[9] = 0xff;
    expectFormatError(bytes, /not valid UTF-8/);
  });
  it('header JSON but not an object', () => {
    expectFormatError(build([1, 2]), /not a JSON object/);
    expectFormatError(build('null'), /not a JSON object/);
  });
  it('entry not an object', () => {
    expectFormatError(build({ a: 3 }), /entry is not an object/);
  });
  it('unknown dtype', () => {
    expectFormatError(build({ a: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, new Uint8Array(16)), /unknown or unsupported dtype 'F128'/);
  });
  it('shape not an array of non-negative integers', () => {
    expectFormatError(build({ a: { dtype: 'F32', shape: [2, -1], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape must be/);
    expectFormatError(build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 8] } }, new Uint8Array(8)), /shape must be/);
    expectFormatError(build({ a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } }, new Uint8Array(8)), /shape must be/);
  });
  it('data_offsets not [begin, end] integers', () => {
    expectFormatError(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, new Uint8Array(8)), /data_offsets must be/);
    expectFormatError(build({ a: { dtype: 'F32', shape: [2], data_offsets: [0, '8'] } }, new Uint8Array(8)), /data_offsets must be/);
    expectFormatError(build({ a: { dtype: 'F32', shape: [2], data_offsets: [-8, 0] } }, new Uint8Array(8)), /data_offsets must be/);
  });
  it('end before begin', () => {
    expectFormatError(build({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, new Uint8Array(8)), /end 0 is before begin 8/);
  });
  it('byte size not prod(shape) · itemsize', () => {
    expectFormatError(build({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), /needs 12/);
  });
  it('overlapping offsets', () => {
    expectFormatError(build({ a: f32([2], 0), b: f32([2], 4) }, new Uint8Array(12)), /'a' and 'b' overlap/);
  });
  it('offsets out of range (truncated data)', () => {
    expectFormatError(build({ a: f32([2], 0), b: f32([4], 8) }, new Uint8Array(20)), /only 20 bytes \(truncated\?\)/);
  });
  it('hole in the data section', () => {
    expectFormatError(build({ a: f32([1], 4) }, new Uint8Array(8)), /belong to no tensor/);
  });
  it('trailing bytes after the last tensor', () => {
    expectFormatError(build({ a: f32([1], 0) }, new Uint8Array(8)), /4 trailing bytes/);
  });
  it('__metadata__ not string → string', () => {
    expectFormatError(build({ __metadata__: { epoch: 3 } }), /key 'epoch' holds a number/);
    expectFormatError(build({ __metadata__: ['x'] }), /__metadata__ is not an object/);
  });
  it('a truncated file on disk names the file', () => {
    const file = path.join(tmp, 'truncated.safetensors');
    const full = encodeSafetensors({ a: tf.ones([16]) });
    fs.writeFileSync(file, full.subarray(0, full.length - 10));
    let caught: unknown;
    try {
      readSafetensors(file);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FormatError);
    expect((caught as FormatError).file).toBe(file);
    expect((caught as Error).message).toMatch(/truncated/);
  });
  it('reads tensors stored beyond 2 GiB in a (sparse) file via positioned reads', () => {
    const file = path.join(tmp, 'huge.safetensors');
    const bigBytes = 2 ** 31 + 16;
    const header = Buffer.from(
      JSON.stringify({
        big: { dtype: 'U8', shape: [bigBytes], data_offsets: [0, bigBytes] },
        small: { dtype: 'F32', shape: [2], data_offsets: [bigBytes, bigBytes + 8] },
      }),
    );
    const fd = fs.openSync(file, 'w');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    fs.writeSync(fd, length, 0, 8, 0);
    fs.writeSync(fd, header, 0, header.length, 8);
    fs.writeSync(fd, new Uint8Array(new Float32Array([1.25, -3]).buffer), 0, 8, 8 + header.length + bigBytes);
    fs.closeSync(fd); // the 2 GiB hole is never written: sparse on disk
    try {
      const { tensors } = readSafetensors(file, { names: ['small'] });
      expect(Array.from(tensors.small!.data as Float32Array)).toEqual([1.25, -3]);
      expect(inspectSafetensors(file).entries.big!.shape).toEqual([bigBytes]);
    } finally {
      fs.rmSync(file);
    }
  });
  it('a missing file is a FormatError naming it', () => {
    expect(() => readSafetensors(path.join(tmp, 'missing.safetensors'))).toThrow(/missing\.safetensors: cannot read/);
  });
});

describe('safetensors files written by the reference (diffusers / torch)', () => {
  it('reads the tiny diffusers UNet: tensor count, names, shapes, values', () => {
    const { tensors, metadata } = readSafetensors(UNET);
    expect(Object.keys(tensors)).toHaveLength(208);
    expect(metadata.format).toBe('pt');
    expect(metadata.generator).toBe('gen_model_goldens.py');
    // Shapes and values below come from an independent parse of the same file with Python's standard library
    // (struct + json + array('f')), not from this code.
    const expected: Record<string, { shape: number[]; first: number[]; last: number; sum: number }> = {
      'conv_in.weight': {
        shape: [32, 4, 3, 3],
        first: [-0.011611612513661385, -0.043506741523742676, 0.14075611531734467],
        last: 0.030741700902581215,
        sum: -3.0516118126397487,
      },
      'down_blocks.0.attentions.0.proj_in.weight': {
        shape: [32, 32, 1, 1],
        first: [-0.09628122299909592, 0.13880233466625214, -0.039311449974775314],
        last: -0.06671711057424545,
        sum: -0.9923778594834403,
      },
      'mid_block.resnets.0.norm1.weight': {
        shape: [48],
        first: [1.0651265382766724, 1.0605741739273071, 1.0236518383026123],
        last: 0.9305300116539001,
        sum: 47.50893586874008,
      },
      'conv_out.bias': {
        shape: [4],
        first: [-0.09167565405368805, 0.00242702872492373, 0.051425933837890625],
        last: -0.039311934262514114,
        sum: -0.07713462575338781,
      },
    };
    for (const [name, e] of Object.entries(expected)) {
      const t = tensors[name]!;
      expect(t.dtype).toBe('F32');
      expect(t.shape).toEqual(e.shape);
      const data = t.data as Float32Array;
      expect(Array.from(data.subarray(0, 3))).toEqual(e.first); // exact: same float32 bits
      expect(data[data.length - 1]).toBe(e.last);
      let sum = 0;
      for (const v of data) sum += v;
      expect(sum).toBeCloseTo(e.sum, 10); // float64 accumulation in the same order as Python's sum()
    }
  });

  it('re-encodes the reference file byte for byte (same layout as the reference writer)', () => {
    const original = fs.readFileSync(UNET);
    const { tensors, metadata } = readSafetensors(UNET);
    const out = path.join(tmp, 'unet-rewritten.safetensors');
    writeSafetensors(out, tensors, metadata);
    expect(Buffer.compare(fs.readFileSync(out), original)).toBe(0);
  });

  it('inspects the header without reading data', () => {
    const header = inspectSafetensors(UNET);
    expect(Object.keys(header.entries)).toHaveLength(208);
    expect(header.entries['conv_in.weight']!.shape).toEqual([32, 4, 3, 3]);
    expect(header.byteLength).toBe(fs.statSync(UNET).size);
    expect(header.dataStart).toBe(8 + header.headerLength);
  });

  it('reads the gzip-compressed LPIPS (alex) state dict from a gunzipped buffer and from the .gz path', () => {
    const bytes = gunzipSync(fs.readFileSync(LPIPS_GZ));
    // sha256 recorded by the fixture generator (_generation_report.json, nets.alex.safetensors_sha256)
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      'fbfb11077fbbb4c3d4da3af5d3b339892b28d9afcce729df7493030151061ef3',
    );
    const { tensors, metadata } = readSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Object.keys(tensors)).toHaveLength(22);
    expect(tensors['net.slice1.0.weight']!.shape).toEqual([64, 3, 11, 11]);
    expect(tensors['lins.4.model.1.weight']!.shape).toEqual([1, 256, 1, 1]);
    // Exact float32 values of the scaling layer listed in the fixture's _generation_report.json.
    expect(Array.from(tensors['scaling_layer.shift']!.data as Float32Array)).toEqual([
      -0.029999999329447746, -0.08799999952316284, -0.18799999356269836,
    ]);
    expect(Array.from(tensors['scaling_layer.scale']!.data as Float32Array)).toEqual([
      0.4580000042915344, 0.4480000138282776, 0.44999998807907104,
    ]);
    const viaPath = loadSafetensorsAsTensors(LPIPS_GZ, { names: ['lin0.model.1.weight'] });
    // sum from the independent Python stdlib parse (struct + array('f'))
    const sum = viaPath['lin0.model.1.weight']!.sum();
    expect(sum.dataSync()[0]).toBeCloseTo(4.619642955774907, 5);
    sum.dispose();
    tf.dispose(Object.values(viaPath));
  });
});
