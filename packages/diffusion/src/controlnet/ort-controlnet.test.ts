/**
 * The exported ControlNet in ONNX Runtime against diffusers' residuals (the `controlnet` model fixture) and the tfjs
 * forward (guess mode), and the ControlNet sampler stack (withControlNet around unetDenoiser) through two sessions
 * against the same stack in tfjs. Tolerance: max |ort − ref| ≤ 1e-4 · max |ref|.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadOrtBinding, Rng, tf, useBackend } from '@consistent-avatar/core';
import { ControlNetModel, DDIMScheduler, exportControlNetOnnx, OrtControlNet, OrtUNet, sample, UNet2DConditionModel, unetDenoiser, withControlNet } from '../index.js';
import { expectRelClose, modelFixture, npyNhwc, npyTensor } from '../../test/models-fixtures.js';

const expectClose = (actual: tf.Tensor, reference: tf.Tensor, label: string) => expectRelClose(expect, actual, reference, label);

/** The `controlnet` fixture's inputs: sample and condition NHWC, timestep, text tokens. */
const fixtureInputs = () => ({
  x: npyNhwc('controlnet/in_sample.npy'),
  t: npyTensor('controlnet/in_timestep.npy'),
  text: npyTensor('controlnet/in_encoder_hidden_states.npy'),
  cond: npyNhwc('controlnet/in_controlnet_cond.npy'),
});

describe.skipIf(!loadOrtBinding().available)('OrtControlNet: the exported ControlNet in ONNX Runtime', () => {
  let controlnet: ControlNetModel;
  let unet: UNet2DConditionModel;
  beforeAll(async () => {
    await useBackend('wasm');
    controlnet = ControlNetModel.fromPretrained(modelFixture('controlnet'));
    unet = UNet2DConditionModel.fromPretrained(modelFixture('unet'));
  });
  afterAll(async () => {
    controlnet.dispose();
    unet.dispose();
    await useBackend('cpu');
  });

  it('refuses a sample, condition, text or scale of the wrong form, naming the argument; and use after dispose', () => {
    const native = new OrtControlNet(controlnet);
    const { x, t, text, cond } = fixtureInputs();
    const F = 'OrtControlNet\\.forward: argument';
    const [B, H, W, C] = x.shape;
    tf.tidy(() => {
      expect(() => native.forward(tf.zeros([B, H, W, C + 1]) as tf.Tensor4D, t, text, cond)).toThrow(new RegExp(`${F} 'sample'`));
      expect(() => native.forward(x, t, text, tf.zeros([B, 3, 3, cond.shape[3]]) as tf.Tensor4D)).toThrow(new RegExp(`${F} 'controlnetCond'`));
      expect(() => native.forward(x, t, tf.zeros([B, 2, text.shape[2]! + 1]), cond)).toThrow(new RegExp(`${F} 'encoderHiddenStates'`));
      expect(() => native.forward(x, t, text, cond, { conditioningScale: Number.NaN })).toThrow(new RegExp(`${F} 'options\\.conditioningScale' expected a finite number`));
    });
    expect(() => new OrtControlNet(controlnet, 7 as never)).toThrow(/OrtControlNet: argument 'options' expected an options object/);
    native.dispose();
    expect(() => native.forward(x, t, text, cond)).toThrow(/not disposed/);
    tf.dispose([x, t, text, cond]);
  });

  it('names its initializers as the diffusers state dict does', () => {
    const torch = controlnet.stateDict({ layout: 'torch' });
    const names = exportControlNetOnnx(controlnet).graph.spec().initializers!.filter((t) => !t.name.startsWith('const_')).map((t) => t.name);
    expect(names.sort()).toEqual(Object.keys(torch).sort());
    tf.dispose(Object.values(torch));
  });

  it('matches diffusers residuals at scales 1.0 and 0.5 and the tfjs forward in guess mode', () => {
    const native = new OrtControlNet(controlnet);
    const { x, t, text, cond } = fixtureInputs();
    for (const [s, scale] of [['s100', 1], ['s050', 0.5]] as const) {
      const out = native.forward(x, t, text, cond, { conditioningScale: scale });
      expect(out.downBlockResSamples.length).toBe(4);
      out.downBlockResSamples.forEach((r, i) => expectClose(r, npyNhwc(`controlnet/out_${s}_down_${i}.npy`), `${s} down ${i}`));
      expectClose(out.midBlockResSample, npyNhwc(`controlnet/out_${s}_mid.npy`), `${s} mid`);
      tf.dispose([...out.downBlockResSamples, out.midBlockResSample]);
    }
    const ours = native.forward(x, t, text, cond, { guessMode: true, conditioningScale: 0.8 });
    const ref = controlnet.forward(x, t, text, cond, { guessMode: true, conditioningScale: 0.8 });
    ours.downBlockResSamples.forEach((r, i) => expectClose(r, ref.downBlockResSamples[i]!, `guess mode down ${i}`));
    expectClose(ours.midBlockResSample, ref.midBlockResSample, 'guess mode mid');
    tf.dispose([x, t, text, cond, ...ours.downBlockResSamples, ours.midBlockResSample, ...ref.downBlockResSamples, ref.midBlockResSample]);
    native.dispose();
  });

  it('drives the ControlNet sampler stack: 3 DDIM steps through two sessions match the tfjs stack', () => {
    const cn = new OrtControlNet(controlnet);
    const native = new OrtUNet(unet, { controlnet: true });
    const text = npyTensor('controlnet/in_encoder_hidden_states.npy');
    const cond = npyNhwc('controlnet/in_controlnet_cond.npy');
    const B = text.shape[0]!;
    const probe = npyNhwc('controlnet/in_sample.npy');
    const [, H, W] = probe.shape;
    probe.dispose();
    const run = (u: UNet2DConditionModel | OrtUNet, c: ControlNetModel | OrtControlNet) =>
      sample({ denoiser: withControlNet(unetDenoiser(u), { controlnet: c, conditioningScale: 0.7 }), conditions: { text, controlImage: cond }, scheduler: new DDIMScheduler(), numInferenceSteps: 3, shape: [B, H, W, 4], rng: new Rng(2) });
    const viaOrt = run(native, cn);
    const viaTfjs = run(unet, controlnet);
    expectClose(viaOrt, viaTfjs, 'DDIM latents with ControlNet');
    tf.dispose([text, cond, viaOrt, viaTfjs]);
    cn.dispose();
    native.dispose();
  });
});
