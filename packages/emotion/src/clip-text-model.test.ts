import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError, ValidationError, initBackend, readNpy, tf, useBackend } from '@consistent-avatar/core';
import { ClipTextModel } from './clip-text-model.js';

const dir = fileURLToPath(new URL('../test/fixtures/clip/', import.meta.url));
const npy = (name: string) => readNpy(join(dir, name));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A folder with config.json and the legacy weights file under the standard name. */
function legacyFolder(): string {
  const d = mkdtempSync(join(tmpdir(), 'clip-legacy-'));
  copyFileSync(join(dir, 'config.json'), join(d, 'config.json'));
  copyFileSync(join(dir, 'model_legacy_with_position_ids.safetensors'), join(d, 'model.safetensors'));
  return d;
}

// Fixture outputs are float32 from PyTorch, of order 1; README advises ~1e-5 absolute for a faithful float32 port.
const ATOL = 1e-5;

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`ClipTextModel parity with transformers CLIPTextModel (${backend})`, () => {
    let model: ClipTextModel;
    let ids: tf.Tensor2D;
    beforeAll(async () => {
      await initBackend('wasm');
      await useBackend(backend);
      model = ClipTextModel.fromPretrained(dir);
      const input = npy('input_ids.npy');
      ids = tf.tensor2d(input.data as Int32Array, input.shape as [number, number], 'int32');
    });
    afterAll(async () => {
      model.dispose();
      ids.dispose();
      await useBackend('wasm');
    });

    it('last_hidden_state, pooler_output and every hidden state within 1e-5 (no attention mask)', () => {
      const out = model.forward(ids, { outputHiddenStates: true });
      expect(out.lastHiddenState.shape).toEqual([2, 77, 32]);
      expect(maxAbsDiff(out.lastHiddenState.dataSync(), npy('last_hidden_state.npy').data as Float32Array)).toBeLessThan(ATOL);
      expect(maxAbsDiff(out.poolerOutput.dataSync(), npy('pooler_output.npy').data as Float32Array)).toBeLessThan(ATOL);
      const hs = npy('hidden_states.npy');
      expect(hs.shape).toEqual([3, 2, 77, 32]);
      expect(out.hiddenStates!.length).toBe(3);
      const per = 2 * 77 * 32;
      out.hiddenStates!.forEach((h, i) => {
        expect(maxAbsDiff(h.dataSync(), (hs.data as Float32Array).subarray(i * per, (i + 1) * per))).toBeLessThan(ATOL);
      });
      tf.dispose([out.lastHiddenState, out.poolerOutput, ...out.hiddenStates!]);
    });

    it('with the attention mask', () => {
      const m = npy('attention_mask.npy');
      const mask = tf.tensor2d(m.data as Int32Array, [2, 77], 'int32');
      const out = model.forward(ids, { attentionMask: mask });
      expect(maxAbsDiff(out.lastHiddenState.dataSync(), npy('last_hidden_state_with_attention_mask.npy').data as Float32Array)).toBeLessThan(
        ATOL,
      );
      expect(maxAbsDiff(out.poolerOutput.dataSync(), npy('pooler_output_with_attention_mask.npy').data as Float32Array)).toBeLessThan(ATOL);
      tf.dispose([out.lastHiddenState, out.poolerOutput, mask]);
    });
  });
}

describe('ClipTextModel loading and masking', () => {
  it('loads the legacy layout (position_ids buffer) to the same outputs', async () => {
    await initBackend('wasm');
    const current = ClipTextModel.fromPretrained(dir);
    const legacy = ClipTextModel.fromPretrained(legacyFolder());
    const input = npy('input_ids.npy');
    const ids = tf.tensor2d(input.data as Int32Array, [2, 77], 'int32');
    const a = current.forward(ids);
    const b = legacy.forward(ids);
    expect(maxAbsDiff(a.lastHiddenState.dataSync(), b.lastHiddenState.dataSync())).toBe(0);
    tf.dispose([a.lastHiddenState, a.poolerOutput, b.lastHiddenState, b.poolerOutput, ids]);
    current.dispose();
    legacy.dispose();
  });

  it('legacy eos_token_id 2 pools at the argmax of the ids (same positions here: the end token is the largest id)', () => {
    const d = legacyFolder();
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...npyConfig(), eos_token_id: 2 }));
    const legacy = ClipTextModel.fromPretrained(d);
    const input = npy('input_ids.npy');
    const ids = tf.tensor2d(input.data as Int32Array, [2, 77], 'int32');
    const out = legacy.forward(ids);
    expect(maxAbsDiff(out.poolerOutput.dataSync(), npy('pooler_output.npy').data as Float32Array)).toBeLessThan(ATOL);
    // Overriding the end token with a token that occurs earlier moves the pooling position.
    const moved = legacy.forward(ids, { eosTokenId: 320 }); // 'a</w>' at position 1 of both prompts
    const last = out.lastHiddenState.arraySync();
    expect(maxAbsDiff(moved.poolerOutput.arraySync()[0]!, last[0]![1]!)).toBe(0);
    tf.dispose([out.lastHiddenState, out.poolerOutput, moved.lastHiddenState, moved.poolerOutput, ids]);
    legacy.dispose();
  });

  it('causal: changing a later token leaves earlier positions unchanged', () => {
    const model = ClipTextModel.fromPretrained(dir);
    const input = npy('input_ids.npy');
    const row = Array.from((input.data as Int32Array).subarray(0, 77));
    const changed = [...row];
    changed[5] = 400; // position 5 of "a photo of a happy face"
    const ids = tf.tensor2d([...row, ...changed], [2, 77], 'int32');
    const before = tf.memory().numTensors;
    const out = model.forward(ids);
    const h = out.lastHiddenState.arraySync();
    const diffAt = (p: number) => Math.max(...h[0]![p]!.map((v, i) => Math.abs(v - h[1]![p]![i]!)));
    for (let p = 0; p < 5; p++) expect(diffAt(p)).toBe(0);
    expect(diffAt(5)).toBeGreaterThan(1e-3);
    expect(diffAt(6)).toBeGreaterThan(1e-3);
    tf.dispose([out.lastHiddenState, out.poolerOutput]);
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    model.dispose();
  });

  it('rejects bad folders, weights and inputs with typed errors', () => {
    expect(() => ClipTextModel.fromPretrained('/nonexistent')).toThrow(ValidationError);
    const d = legacyFolder();
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...npyConfig(), hidden_size: 30 }));
    expect(() => ClipTextModel.fromPretrained(d)).toThrow(/hidden_size/);
    writeFileSync(join(d, 'config.json'), JSON.stringify({ ...npyConfig(), num_hidden_layers: 3 }));
    expect(() => ClipTextModel.fromPretrained(d)).toThrow(/missing keys: text_model.encoder.layers.2/);
    writeFileSync(join(d, 'config.json'), '{');
    expect(() => ClipTextModel.fromPretrained(d)).toThrow(FormatError);
    const model = ClipTextModel.fromPretrained(dir);
    expect(() => model.forward(tf.zeros([1, 5]) as tf.Tensor2D)).toThrow(/int32/);
    expect(() => model.forward(tf.fill([1, 5], 5000, 'int32') as tf.Tensor2D)).toThrow(/token id/);
    expect(() => model.forward(tf.zeros([1, 78], 'int32') as tf.Tensor2D)).toThrow(/length/);
    model.dispose();
  });
});

function npyConfig(): Record<string, unknown> {
  // The fixture config, as written by transformers.
  return JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}
