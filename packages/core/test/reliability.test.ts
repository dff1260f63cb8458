/**
 * Issue 19 (reliability), core's items — each reproducer of the issue is a test here: bounded reads and
 * decompression (1), a resume that trusts nothing (2), npz integrity (4), non-recursive parsers and bounded messages
 * (5), temporaries and typed I/O errors (8), the run-folder lock (9), the non-finite policy (10) and the printing of
 * uncaught errors (11).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW, CheckpointManager, FormatError, IoError, NonFiniteError, Rng, RunLockedError, TrainingLoopState, ValidationError, acquireRunLock,
  asIoError, checkFinite, checkImage, encodeNpy, encodeNpz, encodePng, encodeSafetensors, findJsonErrorOffset, initBackend, loadCheckpoint, nn, parseNpy,
  readJson, readLimits, readNpz, readPng, readSafetensors, removeStaleTemporaries, resumeTraining, saveCheckpoint, saveTrainingCheckpoint,
  setReadLimits, tf, writeFileAtomic,
} from '../src/index.js';

const ROOT = path.resolve(__dirname, '../../..');
let tmp: string;
beforeAll(async () => {
  await initBackend('cpu');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-rel-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (name: string) => path.join(tmp, name);

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe('1. size and resource policy', () => {
  it('refuses a FIFO and a symlink to /dev/zero by type, without blocking or reading', () => {
    const fifo = file('fifo.json');
    execFileSync('mkfifo', [fifo]);
    const t0 = performance.now();
    expect(thrown(() => readJson(fifo))).toBeInstanceOf(FormatError);
    expect(thrown(() => readJson(fifo)).message).toMatch(/is a FIFO, not a regular file/);
    const zero = file('zero.json');
    fs.symlinkSync('/dev/zero', zero);
    expect(thrown(() => readJson(zero)).message).toMatch(/is a character device/);
    expect(thrown(() => readSafetensors(zero))).toBeInstanceOf(FormatError);
    expect(thrown(() => readPng(tmp)).message).toMatch(/is a folder/);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('caps gunzip by ratio and absolute size: a 100 KB .safetensors.gz claiming 100 MB is refused', () => {
    const header = Buffer.from(JSON.stringify({ z: { dtype: 'U8', shape: [100 * 2 ** 20], data_offsets: [0, 100 * 2 ** 20] } }));
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(header.length));
    const bomb = gzipSync(Buffer.concat([head, header, Buffer.alloc(100 * 2 ** 20)]), { level: 9 });
    expect(bomb.length).toBeLessThan(200_000);
    fs.writeFileSync(file('bomb.safetensors.gz'), bomb);
    const error = thrown(() => readSafetensors(file('bomb.safetensors.gz')));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(/exceeds the decompression limit of 67108864 bytes/);
    // Raising the limits (documented, validated) lets the same file through.
    const previous = setReadLimits({ decompressionFloorBytes: 2 ** 28 });
    try {
      expect(readSafetensors(file('bomb.safetensors.gz')).tensors.z!.data.length).toBe(100 * 2 ** 20);
    } finally {
      setReadLimits(previous);
    }
    expect(thrown(() => setReadLimits({ maxJsonDepth: 0 }))).toBeInstanceOf(ValidationError);
    expect(readLimits().decompressionFloorBytes).toBe(64 * 2 ** 20);
  });

  it('refuses a PNG whose header declares more pixels than the policy before decoding', () => {
    const png = Buffer.from(encodePng({ width: 2, height: 2, channels: 1, data: new Float32Array(4) }));
    png.writeUInt32BE(65536, 16); // IHDR width
    png.writeUInt32BE(65536, 20); // IHDR height (CRC left wrong: the size check comes first)
    const crcTable = (b: Buffer) => b; // CRC is checked after the size: both errors are FormatErrors
    expect(thrown(() => readPng(crcTable(png)))).toBeInstanceOf(FormatError);
  });

  it('a 702-byte ZIP64 file claiming 10^8 entries is refused at once', () => {
    const eocd64 = Buffer.alloc(56);
    eocd64.writeUInt32LE(0x06064b50, 0);
    eocd64.writeBigUInt64LE(44n, 4);
    eocd64.writeBigUInt64LE(100_000_000n, 24);
    eocd64.writeBigUInt64LE(100_000_000n, 32);
    eocd64.writeBigUInt64LE(600n, 40);
    eocd64.writeBigUInt64LE(0n, 48);
    const locator = Buffer.alloc(20);
    locator.writeUInt32LE(0x07064b50, 0);
    locator.writeBigUInt64LE(BigInt(624), 8);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(0xffff, 8);
    eocd.writeUInt16LE(0xffff, 10);
    eocd.writeUInt32LE(0xffffffff, 12);
    eocd.writeUInt32LE(0xffffffff, 16);
    const archive = Buffer.concat([Buffer.alloc(624), eocd64, locator, eocd]);
    expect(archive.length).toBe(722);
    const t0 = performance.now();
    expect(thrown(() => readNpz(archive)).message).toMatch(/cannot fit|runs past/);
    expect(performance.now() - t0).toBeLessThan(500);
  });
});

describe('2. checkpoints and state that verify themselves', () => {
  it('Rng.fromState rejects the all-zero state (an infinite loop before) and malformed fields', () => {
    expect(thrown(() => Rng.fromState({ seed: 0, words: [0, 0, 0, 0], spareNormal: null })).message).toMatch(/state\.words.*not all zero/);
    expect(thrown(() => Rng.fromState({ seed: 0, words: [1, 2, 3] as never, spareNormal: null }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => Rng.fromState({ seed: -1, words: [1, 2, 3, 4], spareNormal: null }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => Rng.fromState({ seed: 1, words: [1, 2, 3, 4], spareNormal: Number.NaN }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => Rng.fromState(null as never))).toBeInstanceOf(ValidationError);
  });

  it('AdamW.loadState validates every moment before assigning any (no half-loaded state)', () => {
    const model = new nn.Linear(2, 2, { rng: new Rng(0) });
    const opt = new AdamW(model, { lr: 0.1 });
    const x = tf.tensor2d([[1, 2]]);
    opt.step(() => tf.sum(model.forward(x)) as tf.Scalar);
    const before = Object.fromEntries(Object.entries(opt.stateTensors()).map(([k, t]) => [k, Array.from(t.dataSync())]));
    const good = Object.fromEntries(Object.entries(opt.stateTensors()).map(([k, t]) => [k, tf.onesLike(t)]));
    const bad = { ...good, 'bias.exp_avg_sq': tf.tensor1d([1]) }; // the last one mis-shaped
    expect(thrown(() => opt.loadState(bad, { step: 5 })).message).toMatch(/bias\.exp_avg_sq/);
    const after = Object.fromEntries(Object.entries(opt.stateTensors()).map(([k, t]) => [k, Array.from(t.dataSync())]));
    expect(after).toEqual(before);
    expect(opt.steps).toBe(1);
    expect(thrown(() => opt.loadState(good, { step: '3' as never }))).toBeInstanceOf(ValidationError);
    expect(thrown(() => opt.loadState({ ...good, 'weight.exp_avg': tf.fill([2, 2], Number.NaN) }, { step: 2 })).message).toMatch(/finite/);
    tf.dispose([x, ...Object.values(good), bad['bias.exp_avg_sq']]);
    opt.dispose();
    model.dispose();
  });

  it('a state.json with step "3" or 1e300 is refused naming the field; nothing is applied', () => {
    const runDir = file('resume');
    const model = new nn.Linear(2, 1, { rng: new Rng(1) });
    const optimizer = new AdamW(model, { lr: 0.01 });
    const loop = new TrainingLoopState(new Rng(2), 2, 10);
    const manager = new CheckpointManager(runDir);
    loop.record(0.5);
    loop.record(0.4);
    saveTrainingCheckpoint(manager, 2, { model, optimizer, config: { a: 1 }, state: loop.toState() });
    const statePath = path.join(runDir, 'step-000002', 'state.json');
    const saved = JSON.parse(fs.readFileSync(statePath, 'utf8')) as Record<string, unknown>;
    const reseal = (state: Record<string, unknown>) => {
      // Rewrite the state and re-seal the checksums, as a buggy writer would: only the schema check can catch it.
      fs.writeFileSync(statePath, JSON.stringify(state));
      const sums = JSON.parse(fs.readFileSync(path.join(runDir, 'step-000002', 'checksums.json'), 'utf8')) as { files: Record<string, string> };
      sums.files['state.json'] = require('node:crypto').createHash('sha256').update(fs.readFileSync(statePath)).digest('hex');
      fs.writeFileSync(path.join(runDir, 'step-000002', 'checksums.json'), JSON.stringify({ algorithm: 'sha256', ...sums }));
    };
    const fresh = new nn.Linear(2, 1, { rng: new Rng(9) });
    const freshOpt = new AdamW(fresh, { lr: 0.01 });
    const freshLoop = new TrainingLoopState(new Rng(3), 2, 10);
    const weightsBefore = Array.from(fresh.weight.dataSync());
    for (const [step, pattern] of [['3', /state\.step/], [1e300, /state\.step/]] as const) {
      reseal({ ...saved, step });
      const error = thrown(() => resumeTraining(manager, { model: fresh, optimizer: freshOpt, config: { a: 1 }, validateState: (s) => freshLoop.checkState(s) }));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(pattern);
      expect(Array.from(fresh.weight.dataSync())).toEqual(weightsBefore); // all-or-nothing
      expect(freshOpt.steps).toBe(0);
    }
    reseal({ ...saved, rng: { seed: 1, words: [0, 0, 0, 0], spareNormal: null } });
    expect(thrown(() => resumeTraining(manager, { model: fresh, optimizer: freshOpt, config: { a: 1 }, validateState: (s) => freshLoop.checkState(s) })).message).toMatch(/state\.words/);
    reseal(saved);
    const resumed = resumeTraining(manager, { model: fresh, optimizer: freshOpt, config: { a: 1 }, validateState: (s) => freshLoop.checkState(s) })!;
    freshLoop.restore(resumed.state);
    expect(freshLoop.step).toBe(2);
    expect(Array.from(fresh.weight.dataSync())).toEqual(Array.from(model.weight.dataSync()));
    manager.close();
    for (const m of [model, fresh]) m.dispose();
    for (const o of [optimizer, freshOpt]) o.dispose();
  });

  it('a checkpoint carries a SHA-256 per file and refuses a flipped bit, naming the file', () => {
    const dir = file('ckpt/step-000001');
    const w = tf.tensor1d([1, 2, 3]);
    saveCheckpoint(dir, { config: {}, tensors: { w }, state: { step: 1 } });
    const model = path.join(dir, 'model.safetensors');
    const bytes = fs.readFileSync(model);
    bytes[bytes.length - 1] ^= 1;
    fs.writeFileSync(model, bytes);
    const error = thrown(() => loadCheckpoint(dir));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message).toMatch(/model\.safetensors does not match its SHA-256/);
    w.dispose();
  });
});

describe('5. resume.ts:59 — JSON.stringify of the run config', () => {
  it('a config nested 10^5 deep or with a cycle is a short ValidationError naming config (a RangeError / TypeError before)', () => {
    const dir = file('resume-config');
    const model = new nn.Linear(2, 1, { rng: new Rng(0) });
    const optimizer = new AdamW(model, { lr: 0.1 });
    const manager = new CheckpointManager(dir);
    saveTrainingCheckpoint(manager, 1, { model, optimizer, config: { lr: 0.1 }, state: { step: 1 } });
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const cyclic: Record<string, unknown> = { lr: 0.1 };
    cyclic.self = cyclic;
    for (const config of [deep, cyclic, { lr: 10n }]) {
      const error = thrown(() => resumeTraining(manager, { model, optimizer, config, fn: 'trainToy' }));
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(/^trainToy: argument 'config' expected a JSON/);
      expect(error.message.length).toBeLessThan(300);
    }
    expect(resumeTraining(manager, { model, optimizer, config: { lr: 0.1 } })?.state.step).toBe(1);
    manager.close();
    optimizer.dispose();
    model.dispose();
  });
});

describe('4. npz integrity', () => {
  it('a flipped data bit fails the CRC-32 (numpy: "Bad CRC-32") instead of returning a changed value', () => {
    const archive = Buffer.from(encodeNpz({ a: { dtype: 'float32', shape: [4], data: Float32Array.from([1, 2, 3, 4]) } }));
    const at = archive.indexOf(Buffer.from(Float32Array.from([1, 2, 3, 4]).buffer));
    archive[at + 3] ^= 0x40;
    expect(thrown(() => readNpz(archive)).message).toMatch(/bad CRC-32/);
  });
});

describe('4. what the numpy cross-check found (fuzz/cross-check.ts)', () => {
  it('an npy header with a no-break space is refused, as numpy refuses it (ast.literal_eval); Python whitespace is fine', () => {
    const npy = Buffer.from(encodeNpy({ dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) }));
    const header = npy.subarray(10, 10 + npy.readUInt16LE(8));
    const at = header.indexOf(" 'shape'");
    header[at] = 0xa0; // latin-1 no-break space: JavaScript's \s, not Python's whitespace
    expect(thrown(() => parseNpy(npy))).toBeInstanceOf(FormatError);
    header[at] = 0x0c; // form feed: Python whitespace
    expect(Array.from(parseNpy(npy).data as Float32Array)).toEqual([1, 2]);
  });

  it('an npz member whose local header names it differently from the directory is refused (zipfile: "differ")', () => {
    const archive = Buffer.from(encodeNpz({ a: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) }, b: { dtype: 'float32', shape: [1], data: Float32Array.from([2]) } }));
    expect(Object.keys(readNpz(archive))).toEqual(['a', 'b']);
    const central = archive.lastIndexOf(Buffer.from('b.npy'));
    archive[central + 1] = 0; // the directory's name of b: 'b\0npy', no longer wanted as an array: it was dropped silently
    expect(thrown(() => readNpz(archive)).message).toMatch(/member 'b\u0000npy': its local header names it differently/);
  });
});

describe('4b. npz layout as numpy reads it', () => {
  it('bytes between the central directory and its end record are refused (zipfile: "Bad magic number for central directory")', () => {
    const archive = Buffer.from(encodeNpz({ a: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) } }, { compress: true }));
    const eocd = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const damaged = Buffer.concat([archive.subarray(0, eocd), Buffer.alloc(42, 7), archive.subarray(eocd)]);
    expect(thrown(() => readNpz(damaged)).message).toMatch(/does not end where the end record begins .*42 stray bytes/);
    expect(Array.from(readNpz(archive).a!.data as Float32Array)).toEqual([1]);
  });

  it('an entry count below the directory\'s entries, a ZIP version above 6.3 and strong encryption are refused (numpy refuses them)', () => {
    const archive = Buffer.from(encodeNpz({ a: { dtype: 'float32', shape: [1], data: Float32Array.from([1]) }, b: { dtype: 'float32', shape: [1], data: Float32Array.from([2]) } }));
    const eocd = archive.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    const fewer = Buffer.from(archive);
    fewer.writeUInt16LE(1, eocd + 8);
    fewer.writeUInt16LE(1, eocd + 10); // one entry: b would vanish without a word (it did)
    expect(thrown(() => readNpz(fewer)).message).toMatch(/holds \d+ bytes beyond its 1 entries/);
    const central = archive.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const newer = Buffer.from(archive);
    newer[central + 6] = 127;
    expect(thrown(() => readNpz(newer)).message).toMatch(/needs ZIP version 12\.7/);
    const strong = Buffer.from(archive);
    strong.writeUInt16LE(strong.readUInt16LE(central + 8) | 0x40, central + 8);
    expect(thrown(() => readNpz(strong)).message).toMatch(/strong encryption \(flag bit 6\)/);
  });
});

describe('5. no stack overflow, bounded messages', () => {
  it('deep JSON is a FormatError, and the error scanner is iterative', () => {
    fs.writeFileSync(file('deep.json'), '['.repeat(100_000) + ']'.repeat(100_000));
    expect(thrown(() => readJson(file('deep.json'))).message).toMatch(/nests deeper than 64 levels/);
    fs.writeFileSync(file('deep-bad.json'), '['.repeat(1_000_000) + '}');
    expect(thrown(() => readJson(file('deep-bad.json')))).toBeInstanceOf(FormatError);
    expect(findJsonErrorOffset('['.repeat(500_000))).toBe(500_000);
  });

  it('a deeply nested npy header and a safetensors shape of 10^5 nested arrays give short typed errors', () => {
    const header = `{'descr': '<f4', 'fortran_order': False, 'shape': ${'('.repeat(50_000)}${')'.repeat(50_000)}, }`;
    const npy = Buffer.concat([Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0]), Buffer.alloc(4), Buffer.from(header, 'latin1')]);
    npy.writeUInt32LE(header.length, 8);
    expect(thrown(() => parseNpy(npy)).message).toMatch(/nests deeper than 8 levels/);
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const text = Buffer.from(`{"a": {"dtype": "F32", "shape": ${deep}, "data_offsets": [0, 4]}}`);
    const bytes = Buffer.concat([Buffer.alloc(8), text, Buffer.alloc(4)]);
    bytes.writeBigUInt64LE(BigInt(text.length));
    const error = thrown(() => readSafetensors(bytes));
    expect(error).toBeInstanceOf(FormatError);
    expect(error.message.length).toBeLessThan(300);
  });
});

describe('5, 7. huge parameter shapes, bool bytes', () => {
  it('a layer of 2^31 parameters is a ValidationError before any allocation (a wasm out-of-bounds abort before)', () => {
    expect(thrown(() => new nn.Linear(65536, 32768, { rng: new Rng(0) })).message).toMatch(/at most 268435456 elements \(MAX_PARAMETER_ELEMENTS\)/);
    expect(thrown(() => nn.uniformTensor(new Rng(0), [2 ** 20, 2 ** 20], 1))).toBeInstanceOf(ValidationError);
  });

  it('layers.ts:23 — a convolution stride, dilation or padding beyond MAX_CONV_GEOMETRY is refused (wasm aborts before)', () => {
    // The reproducers: stride 2^40 built and ran, padding 2^40 gave "memory access out of bounds", dilation 2^30 "Aborted()".
    for (const [option, value] of [['stride', 2 ** 40], ['padding', 2 ** 40], ['dilation', 2 ** 30], ['padding', [1, 2 ** 20]]] as const) {
      const error = thrown(() => new nn.Conv2d(3, 8, 3, { [option]: value, rng: new Rng(0) }));
      expect(error, option).toBeInstanceOf(ValidationError);
      expect(error.message).toMatch(new RegExp(`Conv2d: argument '${option}(\\[1\\])?' expected .*1024`));
      expect(error.message.length).toBeLessThan(300);
    }
    expect(thrown(() => new nn.ConvTranspose2d(3, 8, 3, { stride: 2 ** 31 }))).toBeInstanceOf(ValidationError);
    expect(nn.MAX_CONV_GEOMETRY).toBe(1024);
    const conv = new nn.Conv2d(3, 8, 3, { dilation: 8, rng: new Rng(0) }); // extent 17 > 8: tf's kernel aborted
    const x = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    expect(thrown(() => conv.forward(x)).message).toMatch(/Conv2d\.forward: argument 'x' expected height \+ 2·padding ≥ the dilated kernel's extent 17/);
    const ok = new nn.Conv2d(3, 8, 3, { dilation: 3, padding: 3, rng: new Rng(0) });
    const y = ok.forward(x);
    expect(y.shape).toEqual([1, 8, 8, 8]);
    tf.dispose([x, y]);
    conv.dispose();
    ok.dispose();
  });

  it('npy and safetensors bool bytes other than 0 / 1 are refused (they were returned as they were)', () => {
    const npy = Buffer.from(encodeNpy({ dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) }));
    npy[npy.length - 2] = 2;
    expect(thrown(() => parseNpy(npy))).toBeInstanceOf(FormatError);
    const st = Buffer.from(encodeSafetensors({ flag: { dtype: 'BOOL', shape: [3], data: Uint8Array.from([1, 0, 1]) } }));
    st[st.length - 1] = 7;
    expect(thrown(() => readSafetensors(st)).message).toMatch(/holds the byte 7 at element 2, not 0 or 1/);
  });
});

describe('8. temporaries and typed I/O errors', () => {
  it('removes the temporaries of dead writers and keeps those of live ones', () => {
    const dir = file('temps');
    fs.mkdirSync(dir);
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout.trim());
    fs.writeFileSync(path.join(dir, `.loss.json.tmp-${deadPid}-0`), 'x');
    fs.mkdirSync(path.join(dir, `step-000001.tmp-${deadPid}-1`));
    fs.writeFileSync(path.join(dir, `.live.json.tmp-${process.pid}-2`), 'x');
    expect(removeStaleTemporaries(dir).sort()).toEqual([`.loss.json.tmp-${deadPid}-0`, `step-000001.tmp-${deadPid}-1`]);
    expect(fs.readdirSync(dir)).toEqual([`.live.json.tmp-${process.pid}-2`]);
  });

  it('system errors become IoError naming the operation, path and errno (ENOSPC, ENOTDIR, EISDIR)', () => {
    const error = thrown(() => writeFileAtomic('/dev/null/inside.json', '{}'));
    expect(error).toBeInstanceOf(IoError);
    expect((error as IoError).errno).toMatch(/^E[A-Z]+$/); // EEXIST / ENOTDIR: /dev/null is not a folder
    const full = asIoError(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }), 'write', '/data/x.bin') as IoError;
    expect(full).toBeInstanceOf(IoError);
    expect(full.message).toBe('write /data/x.bin failed (ENOSPC): no space left on the device');
    fs.mkdirSync(file('a-folder'));
    const folder = thrown(() => writeFileAtomic(file('a-folder'), 'x'));
    expect(folder).toBeInstanceOf(IoError);
    expect((folder as IoError).errno).toMatch(/EISDIR|ENOTEMPTY|EEXIST/);
  });
});

describe('9. one writer per run folder', () => {
  it('a second process gets RunLockedError naming the holder; a dead holder is taken over', async () => {
    const dir = file('locked-run');
    const script = `import { acquireRunLock } from '@consistent-avatar/core'; acquireRunLock(${JSON.stringify(dir)}); console.log('locked'); setTimeout(() => {}, 60000);`;
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.on('data', (d: Buffer) => d.toString().includes('locked') && resolve()));
    const error = thrown(() => new CheckpointManager(dir));
    expect(error).toBeInstanceOf(RunLockedError);
    expect(error.message).toContain(`pid ${child.pid}`);
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const manager = new CheckpointManager(dir); // stale lock: taken over
    const again = acquireRunLock(dir); // re-entrant in one process
    again.release();
    manager.close();
    expect(fs.existsSync(path.join(dir, '.lock'))).toBe(false);
  }, 60_000);
});

describe('10. the non-finite policy', () => {
  it('checkFinite / checkImage name the argument and the index; allowNonFinite opts out', () => {
    expect(thrown(() => checkFinite('f', 'x', [1, Number.NaN])).message).toBe("f: argument 'x' expected finite numbers (no NaN or ±Infinity), got \"NaN at index 1\"");
    const t = tf.tensor1d([0, Number.POSITIVE_INFINITY]);
    expect(thrown(() => checkFinite('f', 'x', t)).message).toMatch(/Infinity at flat index 1/);
    expect(() => checkFinite('f', 'x', t, { allowNonFinite: true })).not.toThrow();
    t.dispose();
    const img = { data: Float32Array.from([0, Number.NaN, 1]), height: 1, width: 1, channels: 3 };
    expect(thrown(() => checkImage('ssim', 'a', img)).message).toMatch(/a\.data.*NaN at pixel \[0, 0\] \(x, y\) channel 1, sample 1/);
    expect(() => checkImage('ssim', 'a', img, { allowNonFinite: true })).not.toThrow();
  });

  it('training fails fast naming the tensor that went non-finite, before the update', () => {
    const model = new nn.Linear(2, 1, { rng: new Rng(0) });
    const opt = new AdamW(model, { lr: 0.1 });
    const before = Array.from(model.weight.dataSync());
    const x = tf.tensor2d([[Number.NaN, 1]]);
    const loss = thrown(() => opt.step(() => tf.sum(model.forward(x)) as tf.Scalar));
    expect(loss).toBeInstanceOf(NonFiniteError);
    expect(loss.message).toMatch(/AdamW\.step: loss is not finite/);
    const grads = { weight: tf.tensor2d([[Number.NaN, 0]]), bias: tf.tensor1d([0]) };
    expect(thrown(() => opt.applyGradients(grads)).message).toMatch(/gradient of weight is not finite \(NaN at flat index 0/);
    expect(Array.from(model.weight.dataSync())).toEqual(before);
    tf.dispose([x, ...Object.values(grads)]);
    opt.dispose();
    model.dispose();
  });
});

describe('11. uncaught errors print our message first', () => {
  it('after the wasm backend loads, an uncaught error prints its message and stack, no tfjs source, exit 1', () => {
    const script = "import { initBackend } from '@consistent-avatar/core'; await initBackend('wasm'); setTimeout(() => { throw new Error('our message'); });";
    const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trimStart().startsWith('Error: our message')).toBe(true);
    expect(r.stderr.length).toBeLessThan(4000);
  }, 60_000);
});
