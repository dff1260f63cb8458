import { describe, expect, it } from 'vitest';
import { initBackend, Rng, tf, toByteImage, toFloatImage, type FloatImage } from '@consistent-avatar/core';
import { evaluate } from './evaluate.js';
import { Lpips, lpipsFrames } from './lpips.js';
import { FarnebackFlow } from './farneback.js';
import { warpingError } from './warping-error.js';
import { psnr } from './psnr.js';
import { mse } from './mse.js';
import { ssim } from './ssim.js';
import type { PoseExpressionEstimator } from './pose-expression.js';
import { renderPoseExpressionSet } from './pose-expression-renders.js';
import { fixture, readPngImage } from '../test/png.js';

const ref = readPngImage(fixture('metrics/astronaut256_ref.png'));
/** Shift right by dx pixels (edge-replicated): a 3-frame "real" video panning slowly. */
const pan = (img: FloatImage, dx: number): FloatImage => {
  const { height, width, channels } = img;
  const data = new Float32Array(img.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sx = Math.max(0, x - dx);
      for (let c = 0; c < channels; c++) data[(y * width + x) * channels + c] = img.data[(y * width + sx) * channels + c]!;
    }
  }
  return { data, height, width, channels };
};
const real = [0, 2, 4].map((dx) => pan(ref, dx));
const generated = real.map((f, i) => {
  const noise = new Rng(40 + i).normal(f.data.length, 0, 0.02);
  return { ...f, data: f.data.map((v, j) => Math.min(1, Math.max(0, v + noise[j]!))) };
});

describe('evaluate', () => {
  it('minimal run: image quality + temporal, with notes for what was not computed', async () => {
    const r = await evaluate(generated, real, { stripFrames: 2 });
    expect(r.perFrame).toHaveLength(3);
    expect(r.perFrame[1]!.mse).toBeCloseTo(mse(generated[1]!, real[1]!), 12);
    expect(r.summary.ssim).toBeCloseTo((ssim(generated[0]!, real[0]!) + ssim(generated[1]!, real[1]!) + ssim(generated[2]!, real[2]!)) / 3, 12);
    expect(r.summary.lpips).toBeNull();
    expect(r.summary.faces).toBeNull();
    expect(r.summary.notes.join(' ')).toMatch(/LPIPS not computed/);
    expect(r.perFrame[2]!.flowEpe).toBeNull(); // last frame has no pair
    expect(r.perFrame[0]!.flowMagnitudeReference).toBeGreaterThan(1); // the pan moves 2 px per frame
    const csv = r.csv.trim().split('\n');
    expect(csv).toHaveLength(4);
    expect(csv[0]!.split(',')).toHaveLength(19);
    expect(csv[1]!.split(',')).toHaveLength(19);
    expect(JSON.parse(r.json).frames).toBe(3);
    expect(r.markdown).toMatch(/\| PSNR ↑ \| \d+\.\d\d \| dB \|/);
    expect(r.html).toContain('<svg');
    expect(r.html.match(/data:image\/png;base64,/g)).toHaveLength(4);
  });

  it('full run: LPIPS, faces and PE / EE; failures reported, not invented', async () => {
    await initBackend('wasm');
    const lpips = Lpips.fromSafetensors(fixture('lpips/alex/model.safetensors.gz'));
    const estimator: PoseExpressionEstimator = {
      specificationVersion: 'v1',
      name: 'test estimator (mean colour)',
      expressionSize: 3,
      async estimate(frames) {
        return frames.map((f) => {
          const m = [0, 0, 0];
          for (let i = 0; i < f.data.length; i++) m[i % 3]! += f.data[i]! / (f.height * f.width);
          return { pose: new Float32Array(6), expression: Float32Array.from(m) };
        });
      },
    };
    // Frame 2 of the generated video is blank: the face analyser must report it as a failure.
    const gen = [generated[0]!, generated[1]!, { ...generated[2]!, data: new Float32Array(256 * 256 * 3).fill(0.5) }];
    const r = await evaluate(gen, real, { lpips, faces: true, poseExpression: estimator, temporal: false, stripFrames: 0 });
    lpips.dispose();
    expect(r.summary.lpips!.net).toBe('alex');
    expect(r.perFrame.every((row) => row.lpips !== null && row.lpips >= 0)).toBe(true);
    expect(r.summary.faces!.failures.generated).toEqual([2]);
    expect(r.summary.faces!.comparedFrames).toBe(2);
    expect(r.perFrame[2]!.faceFound).toEqual({ generated: false, reference: true });
    expect(r.perFrame[2]!.identitySimilarity).toBeNull();
    expect(r.summary.faces!.identitySimilarity!).toBeGreaterThan(0.8);
    expect(r.summary.poseExpression!.pe).toBe(0);
    expect(r.summary.poseExpression!.ee).toBeGreaterThan(0);
    expect(r.summary.temporal).toBeNull();
    expect(r.markdown).toMatch(/CSIM/);
    expect(r.summary.notes.join(' ')).toMatch(/no face found in 1 generated/);
    expect(r.html).not.toContain('<svg');
  });

  it('poseExpression: true uses the embedded synthetic-head regressor and frees it', async () => {
    await initBackend('wasm');
    const set = await renderPoseExpressionSet({ count: 3, size: 64, seed: 31, identities: [1] });
    const n = 64 * 64 * 3;
    const frames = [0, 1, 2].map((i) => ({ data: set.images.slice(i * n, (i + 1) * n), height: 64, width: 64, channels: 3 }));
    const before = tf.memory().numTensors;
    // Generated = the real frames in reverse order: frame 1 matches (PE 0 there), frames 0 and 2 do not.
    const r = await evaluate([frames[2]!, frames[1]!, frames[0]!], frames, { poseExpression: true, temporal: false, stripFrames: 0 });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.summary.poseExpression!.estimator).toMatch(/embedded synthetic-head regressor/);
    expect(r.perFrame[1]!.pe).toBe(0);
    expect(r.perFrame[0]!.pe).toBeGreaterThan(0);
    expect(r.perFrame[0]!.pe).toBeCloseTo(r.perFrame[2]!.pe!, 6); // |a − b| = |b − a|
    const off = await evaluate(frames, frames, { poseExpression: false, temporal: false, stripFrames: 0 });
    expect(off.summary.poseExpression).toBeNull();
  });

  it('byte frames (uint8) give exactly what the same frames as floats / 255 give, in every measure', async () => {
    await initBackend('wasm');
    const bytes = generated.map((f) => toByteImage(f)); // quantised to 8 bits
    const realBytes = real.map((f) => toByteImage(f));
    const floats = bytes.map((f) => toFloatImage(f)); // the same frames as float32 v / 255
    const realFloats = realBytes.map((f) => toFloatImage(f));
    expect(bytes[0]!.data).toBeInstanceOf(Uint8Array);
    // Image quality: equal to the float image's, and a real PSNR (bytes scored with data range 1 gave about −16 dB).
    const p = psnr(bytes[0]!, realBytes[0]!);
    expect(p).toBe(psnr(floats[0]!, realFloats[0]!));
    expect(p).toBeCloseTo(10 * Math.log10(1 / mse(floats[0]!, realFloats[0]!)), 10);
    expect(p).toBeGreaterThan(25); // σ 0.02 noise: ≈ 34 dB
    expect(mse(bytes[1]!, realBytes[1]!)).toBe(mse(floats[1]!, realFloats[1]!));
    expect(ssim(bytes[2]!, realBytes[2]!)).toBe(ssim(floats[2]!, realFloats[2]!));
    // LPIPS and the flow measures.
    const lpips = Lpips.fromSafetensors(fixture('lpips/alex/model.safetensors.gz'));
    expect(lpipsFrames(lpips, bytes, realBytes).perFrame).toEqual(lpipsFrames(lpips, floats, realFloats).perFrame);
    const flow = await FarnebackFlow.create();
    const forward = flow.compute(realBytes[0]!, realBytes[1]!);
    expect(Array.from(forward.data)).toEqual(Array.from(flow.compute(realFloats[0]!, realFloats[1]!).data));
    flow.dispose();
    const warp = await warpingError(bytes[0]!, bytes[1]!, forward);
    expect(warp).toEqual(await warpingError(floats[0]!, floats[1]!, forward));
    expect(warp.error).toBeLessThan(0.05); // [0, 1]² units, not [0, 255]²
    // The whole report: image quality, LPIPS, temporal consistency, PE / EE (the embedded estimator).
    const options = { lpips, poseExpression: true, stripFrames: 2 } as const;
    const fromBytes = await evaluate(bytes, realBytes, options);
    const fromFloats = await evaluate(floats, realFloats, options);
    lpips.dispose();
    expect(fromBytes.perFrame).toEqual(fromFloats.perFrame);
    expect(fromBytes.summary).toEqual(fromFloats.summary);
    expect(fromBytes.html).toBe(fromFloats.html); // the strip's PNGs too
    expect(fromBytes.summary.psnr).toBeGreaterThan(25);
    expect(fromBytes.summary.temporal).not.toBeNull();
    expect(fromBytes.summary.poseExpression!.pe).not.toBeNull();
    // Mixed storages are allowed: generated bytes against real floats.
    expect((await evaluate(bytes, realFloats, { temporal: false, stripFrames: 0 })).summary.psnr).toBe(fromFloats.summary.psnr);
  });

  it('validates inputs', async () => {
    await expect(evaluate([], [])).rejects.toThrow(/evaluate: argument 'generated'/);
    await expect(evaluate(real, real.slice(0, 2))).rejects.toThrow(/evaluate: argument 'reference'/);
    await expect(evaluate(real, real, { stripFrames: -1 })).rejects.toThrow(/options.stripFrames/);
  });
});
