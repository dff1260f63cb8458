/**
 * `sample()` over a denoiser function and the denoiser wrappers (wasm): a bare function runs the same loop as a
 * hand-written scheduler loop; the UNet form equals the wrapper stack it documents; classifier-free guidance batches
 * the unconditional variant of every named condition (and runs two calls when a condition is absent in one branch);
 * the ControlNet and concatenated-input wrappers equal the calls written out; no tensor leaks.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng, tf, useBackend } from '@consistent-avatar/core';
import {
  ControlNetModel,
  DDIMScheduler,
  MultiControlNet,
  UNet2DConditionModel,
  attachIPAdapter,
  sample,
  unetDenoiser,
  withConcatInput,
  withControlNet,
  withGuidance,
  type Conditions,
  type Denoiser,
} from '../index.js';
import { TINY_UNET } from '../../test/toy-tasks.js';

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);
const values = (t: tf.Tensor) => Array.from(t.dataSync());

beforeAll(async () => {
  await useBackend('wasm');
});

describe('sample() with a bare denoiser function', () => {
  it('runs the scheduler loop on the function, with the same conditions record at every step', () => {
    const latents = tf.tensor(new Rng(1).normal(2 * 4 * 4 * 3), [2, 4, 4, 3]) as tf.Tensor4D;
    const scale = tf.tensor4d([0.5, -0.25], [2, 1, 1, 1]);
    const conditions = { scale };
    const seen: { t: number | number[]; c: Conditions }[] = [];
    // A toy "model": ε̂ = scale_b · x (per sample), so the output depends on the named condition.
    const denoiser: Denoiser<{ scale: tf.Tensor }> = (x, t, c) => {
      seen.push({ t, c });
      return tf.mul(x, c.scale) as tf.Tensor4D;
    };
    const before = tf.memory().numTensors;
    const out = sample({ denoiser, conditions, scheduler: new DDIMScheduler(), numInferenceSteps: 4, latents });
    expect(tf.memory().numTensors).toBe(before + 1);
    const ref = new DDIMScheduler();
    ref.setTimesteps(4);
    expect(seen.map((s) => s.t)).toEqual([...ref.timesteps]);
    for (const s of seen) expect(s.c).toBe(conditions);
    let x = latents.clone();
    for (const t of ref.timesteps) {
      const next = tf.tidy(() => ref.step(tf.mul(x, scale), t, x).prevSample as tf.Tensor4D);
      x.dispose();
      x = next;
    }
    expect(maxDiff(out, x)).toBe(0);
    // Validation.
    const base = { scheduler: new DDIMScheduler(), numInferenceSteps: 2, latents };
    expect(() => sample({ ...base, denoiser: (xx) => tf.tidy(() => xx.slice([0, 0, 0, 0], [1, 4, 4, 3])) })).toThrow(/options\.denoiser/);
    expect(() => sample({ ...base, denoiser: 3 as never })).toThrow(/options\.denoiser/);
    expect(() => sample({ ...base, denoiser, conditions: [scale] as never })).toThrow(/options\.conditions/);
    expect(() => sample({ ...base, denoiser, unet: {} } as never)).toThrow(/either a denoiser or a unet/);
    expect(tf.memory().numTensors).toBe(before + 2); // out and the reference x
    tf.dispose([latents, scale, out, x]);
  });

  it('the UNet form equals unetDenoiser + withGuidance over { text, ipTokens } (the stack it builds)', () => {
    const unet = new UNet2DConditionModel(TINY_UNET, { seed: 2 });
    attachIPAdapter(unet, { numTokens: 2, seed: 3 });
    const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 4);
    const empty = tf.zeros([1, 3, 16]);
    const ip = tf.randomNormal([1, 2, 16], 0, 1, 'float32', 5);
    const common = { scheduler: new DDIMScheduler(), numInferenceSteps: 3, shape: [1, 8, 8, 4] as [number, number, number, number] };
    const legacy = sample({ ...common, rng: new Rng(7), unet, encoderHiddenStates: text, negativeEncoderHiddenStates: empty, guidanceScale: 4, ipTokens: [ip] });
    const zeros = tf.zerosLike(ip);
    const denoiser = withGuidance(unetDenoiser(unet), { guidanceScale: 4, unconditional: { text: empty, ipTokens: [zeros] } });
    const open = sample({ ...common, rng: new Rng(7), denoiser, conditions: { text, ipTokens: [ip] } });
    expect(maxDiff(open, legacy)).toBe(0);
    // Named IP branches: unetDenoiser({ ipTokens: ['image'] }) reads the tokens from their own name.
    const named = sample({ ...common, rng: new Rng(7), denoiser: withGuidance(unetDenoiser(unet, { ipTokens: ['image'] }), { guidanceScale: 4, unconditional: { text: empty, image: zeros } }), conditions: { text, image: ip } });
    expect(maxDiff(named, legacy)).toBe(0);
    expect(() => unetDenoiser(unet)(tf.zeros([1, 8, 8, 4]) as tf.Tensor4D, 1, {})).toThrow(/conditions\.text/);
    expect(() => unetDenoiser({} as never)).toThrow(/unetDenoiser.*unet/);
    tf.dispose([text, empty, ip, legacy, zeros, open, named]);
    unet.dispose();
  });
});

describe('withGuidance', () => {
  /** Records each call; output_b = x_b + mean(gaze_b) + text_b[0, 0] (depends on two named conditions). */
  function recorder() {
    const calls: { x: number[][]; c: Record<string, unknown> }[] = [];
    // Tensors are read at call time (the batched ones are freed when the guided call returns).
    const read = (v: unknown): unknown => (v instanceof tf.Tensor ? v.arraySync() : Array.isArray(v) ? v.map(read) : v);
    const denoiser: Denoiser = (x, _t, c) => {
      calls.push({ x: x.arraySync().map((b) => (b as number[][][]).flat(2)), c: Object.fromEntries(Object.entries(c).map(([k, v]) => [k, read(v)])) });
      return tf.tidy(() => {
        const gaze = tf.mean(c.gaze as tf.Tensor, [1, 2]).reshape([-1, 1, 1, 1]); // [B, 1, 1, 1]
        const text = (c.text as tf.Tensor).slice([0, 0, 0], [-1, 1, 1]).reshape([-1, 1, 1, 1]); // [B, 1, 1, 1]
        return tf.add(tf.add(x, gaze), text) as tf.Tensor4D;
      });
    };
    return { calls, denoiser };
  }
  const x = () => tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2, 1]);

  it('batches the unconditional variant of every named condition as [uncond, cond] and combines with Eq. 6', () => {
    const { calls, denoiser } = recorder();
    const text = tf.tensor3d([[[1, 0]], [[2, 0]]]), textU = tf.tensor3d([[[0, 0]], [[0, 0]]]);
    const gaze = tf.tensor3d([[[0.5, 0.3]], [[-0.4, 0.2]]]), gazeU = tf.tensor3d([[[0.1, 0.1]], [[0.1, 0.1]]]);
    const ip = tf.tensor3d([[[9]], [[8]]]), ipU = tf.tensor3d([[[0]], [[0]]]);
    const input = x();
    const before = tf.memory().numTensors;
    const guided = withGuidance(denoiser, { guidanceScale: 3, unconditional: { text: textU, gaze: gazeU, ipTokens: [ipU] } });
    const out = guided(input, 500, { text, gaze, ipTokens: [ip], ipAdapterScale: 0.5 });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(calls).toHaveLength(1);
    const c = calls[0]!.c;
    expect(calls[0]!.x).toEqual([[1, 2, 3, 4], [5, 6, 7, 8], [1, 2, 3, 4], [5, 6, 7, 8]]); // [x; x]
    expect(c.ipAdapterScale).toBe(0.5); // a non-tensor value is shared
    expect(c.text).toEqual([...textU.arraySync(), ...text.arraySync()]);
    expect(c.gaze).toEqual([...gazeU.arraySync(), ...gaze.arraySync()]);
    expect(c.ipTokens).toEqual([[...ipU.arraySync(), ...ip.arraySync()]]);
    // ε̃ = ε_u + 3·(ε_c − ε_u), with ε = x + mean(gaze) + text[0]:
    const expected = [0, 1].flatMap((b) => [1, 2, 3, 4].map((v) => {
      const xv = v + 4 * b;
      const u = xv + 0.1 + 0;
      const cc = xv + [0.4, -0.1][b]! + [1, 2][b]!;
      return u + 3 * (cc - u);
    }));
    values(out).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    tf.dispose([text, textU, gaze, gazeU, ip, ipU, input, out]);
  });

  it('needs a variant for every tensor condition; null (absent) or a different value runs two calls', () => {
    const { calls, denoiser } = recorder();
    const text = tf.tensor3d([[[1, 0]], [[2, 0]]]);
    const gaze = tf.tensor3d([[[0.5, 0.3]], [[-0.4, 0.2]]]);
    const input = x();
    expect(() => withGuidance(denoiser, { guidanceScale: 2, unconditional: { text } })(input, 1, { text, gaze })).toThrow(/unconditional\.gaze/);
    expect(() => withGuidance(denoiser, { guidanceScale: 2, unconditional: { text, gaze, pose: gaze } })(input, 1, { text, gaze })).toThrow(/unconditional\.pose/);
    expect(() => withGuidance(denoiser, { guidanceScale: 2, unconditional: { text, gaze: tf.zeros([2, 2, 2]) } })(input, 1, { text, gaze })).toThrow(/conditions\.gaze/);
    expect(() => withGuidance(denoiser, { guidanceScale: -1, unconditional: {} })).toThrow(/guidanceScale/);
    expect(calls).toHaveLength(0);
    // gaze absent in the unconditional branch: the recorder would fail on a null gaze, so give it a zero-mean one
    // through a wrapper that maps null to zeros, and check the two calls.
    const nullToZero: Denoiser = (xx, t, c) => tf.tidy(() => denoiser(xx, t, { ...c, gaze: c.gaze ?? tf.zeros([2, 1, 2]) }));
    const out = withGuidance(nullToZero, { guidanceScale: 2, unconditional: { text, gaze: null } })(input, 1, { text, gaze });
    expect(calls).toHaveLength(1 + 1);
    expect(calls[0]!.x).toHaveLength(2); // no [x; x] batch
    expect(calls[0]!.c.gaze).toEqual([[[0, 0]], [[0, 0]]]); // the null → zeros of the unconditional call
    expect(calls[0]!.c.text).toEqual(text.arraySync());
    expect(calls[1]!.c.gaze).toEqual(gaze.arraySync());
    const expected = [0, 1].flatMap((b) => [1, 2, 3, 4].map((v) => {
      const u = v + 4 * b + [1, 2][b]!;
      return u + 2 * [0.4, -0.1][b]!;
    }));
    values(out).forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, 5));
    // A non-tensor value that differs between the branches (an IP-Adapter scale) also splits.
    tf.dispose(withGuidance(denoiser, { guidanceScale: 2, unconditional: { text, gaze, ipAdapterScale: 0 } })(input, 1, { text, gaze, ipAdapterScale: 1 }));
    expect(calls.slice(2).map((cl) => cl.c.ipAdapterScale)).toEqual([0, 1]);
    tf.dispose([text, gaze, input, out]);
  });
});

describe('withControlNet / withConcatInput', () => {
  it('equal the ControlNet residuals and the concatenation written out; scale 0 skips the net', () => {
    const unet = new UNet2DConditionModel({ ...TINY_UNET, in_channels: 6 }, { seed: 5 }); // 4 latent + 2 concatenated channels
    const controlnet = ControlNetModel.fromUnet(new UNet2DConditionModel(TINY_UNET, { seed: 6 }), { conditioningEmbeddingOutChannels: [8], seed: 7 });
    // fromUnet copies the encoder of a 4-channel UNet, so this ControlNet takes the latents alone (as diffusers').
    const zeroConvs = controlnet.namedParameters().filter(([n]) => n.startsWith('controlnet_down_blocks') || n.startsWith('controlnet_mid_block'));
    zeroConvs.forEach(([, v], i) => v.assign(tf.randomNormal(v.shape, 0, 0.1, 'float32', 10 + i))); // non-zero residuals
    const latents = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 8) as tf.Tensor4D;
    const extra = tf.randomNormal([1, 8, 8, 2], 0, 1, 'float32', 9) as tf.Tensor4D;
    const image = tf.randomUniform([1, 8, 8, 3], 0, 1, 'float32', 10) as tf.Tensor4D;
    const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 11);
    const before = tf.memory().numTensors;
    const denoiser = withControlNet(withConcatInput(unetDenoiser(unet)), { controlnet, conditioningScale: 0.7 });
    const out = denoiser(latents, 300, { text, concatInput: extra, controlImage: image });
    const ref = tf.tidy(() => {
      const r = controlnet.forward(latents, 300, text, image, { conditioningScale: 0.7 });
      return unet.forward(tf.concat([latents, extra], 3) as tf.Tensor4D, 300, text, { downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample });
    });
    expect(maxDiff(out, ref)).toBe(0);
    const plain = tf.tidy(() => unet.forward(tf.concat([latents, extra], 3) as tf.Tensor4D, 300, text));
    expect(maxDiff(out, plain)).toBeGreaterThan(1e-4); // the residuals matter
    const skipped = withControlNet(withConcatInput(unetDenoiser(unet)), { controlnet, conditioningScale: () => 0 })(latents, 300, { text, concatInput: extra, controlImage: image });
    expect(maxDiff(skipped, plain)).toBe(0);
    // Two stacked wrappers add their residuals like a MultiControlNet.
    const stacked = withControlNet(withControlNet(withConcatInput(unetDenoiser(unet)), { controlnet }), { controlnet, image: 'second' })(latents, 300, { text, concatInput: extra, controlImage: image, second: image });
    const multi = withControlNet(withConcatInput(unetDenoiser(unet)), { controlnet: new MultiControlNet([controlnet, controlnet]) })(latents, 300, { text, concatInput: extra, controlImage: [image, image] });
    expect(maxDiff(stacked, multi)).toBeLessThan(1e-5);
    expect(tf.memory().numTensors).toBe(before + 6); // the six outputs
    expect(() => withConcatInput(unetDenoiser(unet))(latents, 1, { text })).toThrow(/conditions\.concatInput/);
    expect(() => withControlNet(unetDenoiser(unet), { controlnet: {} as never })).toThrow(/options\.controlnet/);
    tf.dispose([latents, extra, image, text, out, ref, plain, skipped, stacked, multi]);
    unet.dispose();
    controlnet.dispose();
  });
});
