/**
 * The open condition path inside the networks (wasm): a named per-call record reaches every attention processor of
 * a UNet and of a ControlNet as the same object, untouched; the exported attention frame `withAttentionTail` is what
 * both built-in processors run in (group norm, to_out, spatial restore, residual, ÷ rescale — checked against the
 * formula written out here), and a processor built on it keeps the residual and the rescale even when its attention
 * contributes nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { nn, tf, useBackend, ValidationError } from '@consistent-avatar/core';
import {
  Attention,
  AttnProcessor,
  ControlNetModel,
  IPAdapterAttnProcessor,
  UNet2DConditionModel,
  linearForward,
  withAttentionTail,
  type AttentionCallOptions,
  type AttentionProcessor,
  type EncoderHiddenStates,
} from '../index.js';
import { TINY_UNET } from '../../test/toy-tasks.js';

/** Plain attention that records the options of every call. */
class RecordingProcessor extends AttnProcessor {
  readonly seen: AttentionCallOptions[] = [];
  override process(attn: Attention, hiddenStates: tf.Tensor, encoderHiddenStates: EncoderHiddenStates | null, options: AttentionCallOptions = {}): tf.Tensor {
    this.seen.push(options);
    return super.process(attn, hiddenStates, encoderHiddenStates, options);
  }
}

function install(model: { setAttentionProcessor(f: (name: string) => AttentionProcessor): void }): RecordingProcessor[] {
  const procs: RecordingProcessor[] = [];
  model.setAttentionProcessor(() => {
    const p = new RecordingProcessor();
    procs.push(p);
    return p;
  });
  return procs;
}

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]!);

beforeAll(async () => {
  await useBackend('wasm');
});

describe('named per-call conditions', () => {
  it('reach every processor of the UNet and of a ControlNet as the same record, with the other call options', () => {
    const unet = new UNet2DConditionModel(TINY_UNET, { seed: 1 });
    const controlnet = ControlNetModel.fromUnet(unet, { conditioningEmbeddingOutChannels: [8], conditioningChannels: 3 });
    const unetProcs = install(unet);
    const netProcs = install(controlnet);
    expect(unetProcs.length).toBe(Object.keys(unet.attentionProcessors()).length);
    expect(netProcs.length).toBe(Object.keys(controlnet.attentionProcessors()).length);
    expect(netProcs.length).toBeGreaterThan(0);
    const gaze = tf.tensor3d([[[0.3, -0.2]]]);
    const conditions = { gaze, note: 'anything' };
    const x = tf.randomNormal([1, 8, 8, 4], 0, 1, 'float32', 1) as tf.Tensor4D;
    const text = tf.randomNormal([1, 3, 16], 0, 1, 'float32', 2);
    const image = tf.zeros([1, 8, 8, 3]) as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const r = controlnet.forward(x, 10, text, image, { conditions });
    tf.dispose(unet.forward(x, 10, text, { conditions, crossAttentionKwargs: { scale: 0.5 }, downBlockAdditionalResiduals: r.downBlockResSamples, midBlockAdditionalResidual: r.midBlockResSample }));
    tf.dispose([...r.downBlockResSamples, r.midBlockResSample]);
    expect(tf.memory().numTensors).toBe(before);
    for (const p of [...unetProcs, ...netProcs]) {
      expect(p.seen).toHaveLength(1);
      expect(p.seen[0]!.conditions).toBe(conditions); // the caller's object itself, untouched
    }
    for (const p of unetProcs) expect(p.seen[0]!.ipAdapterScale).toBe(0.5);
    expect(conditions).toEqual({ gaze, note: 'anything' });
    expect(gaze.isDisposed).toBe(false);
    expect(() => unet.forward(x, 10, text, { conditions: [gaze] as never })).toThrow(/options\.conditions/);
    expect(() => controlnet.forward(x, 10, text, image, { conditions: 3 as never })).toThrow(/options\.conditions/);
    tf.dispose([gaze, x, text, image]);
    unet.dispose();
    controlnet.dispose();
  });
});

describe('withAttentionTail', () => {
  // A VAE-style layer: inner group norm, residual, rescale 2, on [B, H, W, C] maps — every step of the frame in use.
  const layer = () => new Attention({ queryDim: 8, heads: 2, dimHead: 4, normNumGroups: 2, residualConnection: true, rescaleOutputFactor: 2, seed: 3 });
  /** The frame written out: (to_out(merged(groupnorm(flatten x))) reshaped + x) / 2. */
  function expected(attn: Attention, x: tf.Tensor4D, merged: (tokens: tf.Tensor) => tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const [B, H, W, C] = x.shape;
      const tokens = attn.group_norm!.forward(x.reshape([B, H * W, C])); // [B, H·W, C]
      const out = linearForward(attn.to_out.at(0) as nn.Linear, merged(tokens)).reshape([B, H, W, C]); // [B, H, W, C]
      return tf.div(tf.add(out, x), 2);
    });
  }

  it('is the frame of both built-in processors (group norm, to_out, shape, residual, ÷ rescale)', () => {
    const attn = layer();
    const x = tf.randomNormal([2, 3, 3, 8], 0, 1, 'float32', 4) as tf.Tensor4D;
    const selfAttention = (t: tf.Tensor) => attn.multiHeadAttention(linearForward(attn.to_q, t), linearForward(attn.to_k, t), linearForward(attn.to_v, t));
    const plain = attn.forward(x);
    const plainRef = expected(attn, x, selfAttention);
    expect(maxDiff(plain, plainRef)).toBeLessThan(1e-5);
    // IP-Adapter: text branch + 0.5 × image branch, in the same frame.
    const ip = new IPAdapterAttnProcessor({ hiddenSize: 8, crossAttentionDim: 6, numTokens: [2], scale: [0.5], seed: 5 });
    attn.setProcessor(ip);
    const image = tf.randomNormal([2, 2, 6], 0, 1, 'float32', 6);
    const text = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 7);
    const withIp = attn.forward(x, { text, ipTokens: [image] });
    const ipRef = expected(attn, x, (t) => tf.add(
      attn.multiHeadAttention(linearForward(attn.to_q, t), linearForward(attn.to_k, text), linearForward(attn.to_v, text)),
      tf.mul(attn.multiHeadAttention(linearForward(attn.to_q, t), linearForward(ip.to_k_ip.at(0), image), linearForward(ip.to_v_ip.at(0), image)), 0.5),
    ));
    expect(maxDiff(withIp, ipRef)).toBeLessThan(1e-5);
    tf.dispose([x, plain, plainRef, image, text, withIp, ipRef]);
    attn.dispose();
  });

  it('keeps the residual and the rescale for a processor of your own, and checks what its body returns', () => {
    const attn = layer();
    const x = tf.randomNormal([1, 2, 2, 8], 0, 1, 'float32', 8) as tf.Tensor4D;
    // A body that contributes nothing: the output is (to_out bias + x) / 2, not 0.
    const silent = withAttentionTail(attn, x, {}, (t) => tf.zeros([t.shape[0], t.shape[1], attn.innerDim]));
    const bias = (attn.to_out.at(0) as nn.Linear).bias!;
    const ref = tf.tidy(() => tf.div(tf.add(tf.broadcastTo(bias, [1, 2, 2, 8]), x), 2));
    expect(maxDiff(silent, ref)).toBe(0);
    expect(silent.shape).toEqual([1, 2, 2, 8]);
    const n = tf.memory().numTensors;
    expect(() => withAttentionTail(attn, x, {}, (t) => tf.zeros([t.shape[0], t.shape[1], 3]))).toThrow(ValidationError);
    expect(() => withAttentionTail(attn, x, {}, 'no' as never)).toThrow(/withAttentionTail.*body/);
    expect(tf.memory().numTensors).toBe(n); // the failed frame freed what it made
    tf.dispose([x, silent, ref]);
    attn.dispose();
  });
});
