/**
 * Issue 19 (reliability), item 10 in core: a NaN test per public numeric entry point. The layer forwards and the
 * activations carry NaN / ±Infinity to the outputs that depend on them (documented in `nn/layers.ts`; a check there
 * would read every activation back once per layer per step), `clipGradNorm` carries them to `totalNorm`, and the
 * entry points a caller feeds numbers directly (`Rng.uniform` / `normal` bounds, PNG encoding, images, optimiser and
 * layer settings) reject them; storage formats keep them bit for bit.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  AdamW, Ema, Rng, TrainingLoopState, ValidationError, clipGradNorm, conv2dInputGrad, encodePng, encodeSafetensors, float16ToFloat32, formatDuration, imageFromTensor,
  hasFfmpeg, imageToTensor, initBackend, nn, readSafetensors, tf, toByteImage, writeVideo,
} from '../src/index.js';

beforeAll(async () => {
  await initBackend('cpu');
});

/** Which flat positions of `t` are NaN / ±Infinity. */
const nonFinite = (t: tf.Tensor): number[] => Array.from(t.dataSync()).flatMap((v, i) => (Number.isFinite(v) ? [] : [i]));

describe('10. the nn layers and activations carry a non-finite input to the outputs that depend on it (documented)', () => {
  it('Linear / LayerNorm: a NaN in row 1 makes row 1 non-finite and leaves row 0 finite', () => {
    const rng = new Rng(0);
    const linear = new nn.Linear(3, 2, { rng });
    const norm = new nn.LayerNorm(3);
    const x = tf.tensor2d([[0.1, 0.2, 0.3], [0.4, Number.NaN, 0.6]]); // [2, 3]
    const y = linear.forward(x); // [2, 2]
    expect(nonFinite(y)).toEqual([2, 3]);
    const z = norm.forward(x);
    expect(nonFinite(z)).toEqual([3, 4, 5]);
    tf.dispose([x, y, z]);
    linear.dispose();
    norm.dispose();
  });

  it('Conv2d / ConvTranspose2d: an Infinity pixel reaches only its receptive field', () => {
    const rng = new Rng(1);
    const conv = new nn.Conv2d(1, 1, 3, { padding: 1, rng });
    const convT = new nn.ConvTranspose2d(1, 1, 2, { stride: 2, rng });
    const values = new Float32Array(25).fill(0.5);
    values[0] = Number.POSITIVE_INFINITY; // pixel (0, 0) of a 5×5 image
    const x = tf.tensor4d(values, [1, 5, 5, 1]);
    const y = conv.forward(x); // [1, 5, 5, 1]
    expect(nonFinite(y)).toEqual([0, 1, 5, 6]); // the 3×3 neighbourhood of (0, 0), clipped by the border
    const u = convT.forward(x); // [1, 10, 10, 1]
    expect(nonFinite(u)).toEqual([0, 1, 10, 11]); // the 2×2 block (0, 0) writes
    tf.dispose([x, y, u]);
    conv.dispose();
    convT.dispose();
  });

  it('GroupNorm / FrozenBatchNorm2d: a NaN spreads over its group (statistics), a frozen norm keeps it local', () => {
    const group = new nn.GroupNorm(2, 4);
    const frozen = new nn.FrozenBatchNorm2d(4);
    const values = new Float32Array(2 * 2 * 4).map((_, i) => i / 16);
    values[1] = Number.NaN; // pixel 0, channel 1 (group 0 = channels 0, 1)
    const x = tf.tensor4d(values, [1, 2, 2, 4]);
    const g = group.forward(x);
    expect(nonFinite(g)).toEqual([0, 1, 4, 5, 8, 9, 12, 13]); // channels 0 and 1 at all four pixels
    const f = frozen.forward(x);
    expect(nonFinite(f)).toEqual([1]);
    tf.dispose([x, g, f]);
    group.dispose();
    frozen.dispose();
  });

  it('silu / gelu / quickGelu carry NaN and -Infinity elementwise (NaN stays NaN: nothing is hidden)', () => {
    const x = tf.tensor1d([0.5, Number.NaN, -1]);
    for (const act of [nn.silu, nn.quickGelu, (t: tf.Tensor) => nn.gelu(t), (t: tf.Tensor) => nn.gelu(t, 'tanh')]) {
      const y = act(x);
      expect(nonFinite(y)).toEqual([1]);
      expect(Number.isNaN(y.dataSync()[1])).toBe(true);
      y.dispose();
    }
    x.dispose();
  });

  it('Dropout keeps NaN whether the element is dropped or kept (it multiplies: NaN · 0 is NaN)', () => {
    const dropout = new nn.Dropout(0.5);
    const x = tf.fill([64], Number.NaN);
    const y = dropout.forward(x, new Rng(3));
    expect(nonFinite(y)).toHaveLength(64);
    tf.dispose([x, y]);
  });

  it('clipGradNorm returns totalNorm NaN and the gradients unscaled, so the optimiser names the tensor', () => {
    const grads = { w: tf.tensor1d([3, Number.NaN]) };
    const { grads: clipped, totalNorm } = clipGradNorm(grads, 1);
    expect(Number.isNaN(totalNorm)).toBe(true);
    expect(nonFinite(clipped.w!)).toEqual([1]);
    expect(clipped.w!.dataSync()[0]).toBe(3);
    tf.dispose([grads.w, clipped.w!]);
  });

  it('the training kernels carry like the ops they replace: a NaN in dy reaches the input gradient', () => {
    const dy = tf.tensor4d([0, 0, 0, 0, Number.NaN, 0, 0, 0, 0], [1, 3, 3, 1]);
    const filter = tf.ones([1, 1, 1, 1]) as tf.Tensor4D;
    const dx = conv2dInputGrad([1, 3, 3, 1], dy, filter, 1, 'same');
    expect(nonFinite(dx)).toEqual([4]);
    tf.dispose([dy, filter, dx]);
  });
});

describe('10. storage and formatting keep non-finite values as they are (documented: a file holds what the caller wrote)', () => {
  it('safetensors round-trips NaN / ±Infinity bit for bit; float16 NaN bits decode to NaN; formatDuration prints ?', () => {
    const values = Float32Array.from([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1]);
    const back = readSafetensors(encodeSafetensors({ x: { dtype: 'F32', shape: [4], data: values } })).tensors.x!.data as Float32Array;
    expect(Array.from(back)).toEqual(Array.from(values));
    expect(Number.isNaN(float16ToFloat32(Uint16Array.from([0x7e00]))[0])).toBe(true);
    expect(formatDuration(Number.NaN)).toBe('?');
    expect(formatDuration(Number.POSITIVE_INFINITY)).toBe('?');
  });
});

describe('10. core entry points that take numbers reject NaN and ±Infinity naming the argument', () => {
  it('Rng.uniform / Rng.normal bounds (every draw came out NaN)', () => {
    const rng = new Rng(0);
    expect(() => rng.uniform(4, Number.NaN, 1)).toThrow(new ValidationError('Rng.uniform', 'low', 'finite numbers (no NaN or ±Infinity)', Number.NaN));
    expect(() => rng.uniform(4, 0, Number.POSITIVE_INFINITY)).toThrow(/Rng\.uniform: argument 'high' expected finite/);
    expect(() => rng.normal(4, Number.NaN)).toThrow(/Rng\.normal: argument 'mean' expected finite/);
    expect(() => rng.normal(4, 0, Number.NEGATIVE_INFINITY)).toThrow(/Rng\.normal: argument 'std' expected finite/);
  });

  it('optimiser, training-loop, layer and Rng numbers (Infinity passed `> 0`; NaN forked stream 0 and gave bound 0)', () => {
    const model = new nn.Linear(2, 1, { rng: new Rng(0) });
    expect(() => new AdamW(model, { lr: Number.POSITIVE_INFINITY })).toThrow("AdamW: argument 'lr' expected a finite number > 0, got Infinity");
    expect(() => new AdamW(model, { eps: Number.POSITIVE_INFINITY })).toThrow(/AdamW: argument 'eps' expected a finite number > 0/);
    const opt = new AdamW(model, { lr: 0.1 });
    expect(() => opt.setLearningRate(Number.POSITIVE_INFINITY)).toThrow(/AdamW\.setLearningRate: argument 'lr' expected a finite number > 0/);
    opt.dispose();
    model.dispose();
    expect(() => new TrainingLoopState(new Rng(0), Number.NaN, 10)).toThrow(/TrainingLoopState: argument 'logEvery' expected a positive integer/);
    expect(() => new TrainingLoopState(new Rng(0), 1, Number.POSITIVE_INFINITY)).toThrow(/TrainingLoopState: argument 'iterations'/);
    expect(() => new TrainingLoopState(new Rng(0), 1, 10).record(Number.NaN)).toThrow(/TrainingLoopState\.record: argument 'loss' expected finite numbers/);
    expect(() => new nn.Linear(Number.NaN, 1)).toThrow(/Linear: argument 'inFeatures' expected a positive integer/);
    expect(() => new nn.Dropout(Number.NaN)).toThrow(/Dropout: argument 'p'/);
    expect(() => new nn.GroupNorm(1, 2, Number.NaN)).toThrow(/GroupNorm: argument 'eps'/);
    expect(() => new nn.LayerNorm(2, Number.POSITIVE_INFINITY)).toThrow(/LayerNorm: argument 'eps'/);
    expect(() => nn.torchDefaultBound(Number.NaN)).toThrow(/torchDefaultBound: argument 'fanIn' expected an integer ≥ 0, got NaN/);
    const source = new nn.Linear(1, 1, { rng: new Rng(1) });
    expect(() => new Ema(source, Number.NaN)).toThrow(/Ema: argument 'decay' expected a number in \[0, 1\], got NaN/);
    source.dispose();
    expect(() => nn.uniformTensor(new Rng(0), [2], Number.NaN)).toThrow(/Rng\.uniform: argument 'low' expected finite/);
    expect(() => nn.normalTensor(new Rng(0), [2], Number.POSITIVE_INFINITY)).toThrow(/Rng\.normal: argument 'std' expected finite/);
    expect(() => new Rng(0).fork(Number.NaN)).toThrow(/Rng\.fork: argument 'key' expected a string or an integer, got NaN/);
  });

  it('encodePng rejects NaN and ±Infinity (Infinity was clamped to white)', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const encode = (): Buffer => encodePng({ width: 1, height: 1, channels: 3, data: [0, bad, 0] });
      expect(encode).toThrow(ValidationError);
      expect(encode).toThrow(`encodePng: argument 'image' expected finite values (no NaN or ±Infinity), got "${bad} at sample 1"`);
    }
  });

  it('writeVideo names the frame of a non-finite sample, with either encoder (NaN was written as black)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ca-nan-video-'));
    const frame = (bad?: number) => ({ width: 2, height: 2, channels: 3, data: Float32Array.from({ length: 12 }, (_, i) => (i === 4 && bad !== undefined ? bad : 0.5)) });
    try {
      for (const encoder of hasFfmpeg() ? (['gifenc', 'ffmpeg'] as const) : (['gifenc'] as const)) {
        for (const bad of [Number.NaN, Number.NEGATIVE_INFINITY]) {
          await expect(writeVideo(path.join(dir, 'a.gif'), [frame(), frame(bad)], { encoder })).rejects.toThrow(`writeVideo: argument 'frames[1]' expected finite values (no NaN or ±Infinity), got "${bad} at sample 4"`);
        }
      }
      expect(fs.readdirSync(dir)).toEqual([]); // nothing left behind
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imageToTensor / toByteImage reject a non-finite sample before allocating a tensor', () => {
    const image = { data: Float32Array.from([0, 0, Number.NEGATIVE_INFINITY]), height: 1, width: 1, channels: 3 };
    const before = tf.memory().numTensors;
    expect(() => imageToTensor(image)).toThrow(/imageToTensor: argument 'image\.data' expected finite samples .*-Infinity/);
    expect(tf.memory().numTensors).toBe(before);
    expect(() => toByteImage({ ...image, data: Float32Array.from([Number.NaN, 0, 0]) })).toThrow(/toByteImage: argument 'image\.data'.*NaN/);
    const tensor = tf.tensor3d([0, Number.NaN, 0, 0, 0, 0, 0, 0], [1, 1, 8]); // 8 channels: any count is an image here
    expect(() => imageFromTensor(tensor)).toThrow(/imageFromTensor: argument 'tensor\.data' expected finite samples .*NaN at pixel \[0, 0\] \(x, y\) channel 1/);
    tensor.dispose();
  });
});
