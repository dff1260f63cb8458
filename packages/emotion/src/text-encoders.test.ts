import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError, initBackend, readNpy, tf, writeSafetensors } from '@consistent-avatar/core';
import { ClipEmotionTextEncoder } from './clip-emotion-encoder.js';
import { LABEL_EMBEDDING_NAME, LabelEmbeddingTable } from './label-embedding.js';
import { formatPrompt, type EmotionTextEncoder } from './text-encoder.js';
import { MEAD_EMOTIONS_7 } from './vocabulary.js';

const clipDir = fileURLToPath(new URL('../test/fixtures/clip/', import.meta.url));

/** Contract every EmotionTextEncoder satisfies. */
function contract(encoder: EmotionTextEncoder, labels: string[]) {
  expect(typeof encoder.name).toBe('string');
  const before = tf.memory().numTensors;
  const t = encoder.encode(labels);
  expect(t.shape).toEqual([labels.length, encoder.dimension]);
  expect(Array.from(t.dataSync()).every(Number.isFinite)).toBe(true);
  t.dispose();
  expect(tf.memory().numTensors).toBe(before);
  expect(() => encoder.encode([])).toThrow(ValidationError);
}

describe('emotion text encoders', () => {
  it('prompt templates', () => {
    expect(formatPrompt('happy')).toBe('a photo of a happy face');
    expect(formatPrompt('sad', '{label}, {label}!')).toBe('sad, sad!');
    expect(() => formatPrompt('sad', 'no placeholder')).toThrow(/template/);
  });

  it('CLIP encoder: pooled output of "a photo of a happy face" equals transformers (fixture)', async () => {
    await initBackend('wasm');
    const encoder = ClipEmotionTextEncoder.fromFolders(join(clipDir, 'tokenizer'), clipDir);
    expect(encoder.name).toContain('CLIP text encoder');
    contract(encoder, ['happy', 'sad']);
    const pooled = encoder.encode(['happy']);
    const ref = readNpy(join(clipDir, 'pooler_output.npy')).data as Float32Array; // row 0 = "a photo of a happy face"
    const ours = pooled.dataSync();
    let diff = 0;
    for (let i = 0; i < 32; i++) diff = Math.max(diff, Math.abs(ours[i]! - ref[i]!));
    expect(diff).toBeLessThan(1e-5);
    pooled.dispose();
    encoder.dispose();
  });

  it('learned label embedding: named as such, 768-d, trainable, saves and loads', () => {
    const table = new LabelEmbeddingTable(MEAD_EMOTIONS_7, { seed: 1 });
    expect(table.name).toBe(LABEL_EMBEDDING_NAME);
    expect(table.name).toBe('learned label embedding (no CLIP weights)');
    expect(table.dimension).toBe(768);
    contract(table, ['happy', 'sad', 'happy']);
    // deterministic from the seed
    const again = new LabelEmbeddingTable(MEAD_EMOTIONS_7, { seed: 1 });
    const a = table.encode(['fear']);
    const b = again.encode(['fear']);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    // gradients reach only the rows used
    const { grads } = tf.variableGrads(() => tf.sum(table.encode(['happy', 'happy'])) as tf.Scalar, table.trainableVariables());
    const g = Object.values(grads)[0]!.arraySync() as number[][];
    const happy = MEAD_EMOTIONS_7.indexOf('happy');
    expect(g[happy]![0]).toBe(2);
    expect(g[0]![0]).toBe(0);
    tf.dispose(Object.values(grads));
    // save / load
    const dir = mkdtempSync(join(tmpdir(), 'label-emb-'));
    table.save(join(dir, 't.safetensors'));
    const loaded = LabelEmbeddingTable.load(join(dir, 't.safetensors'));
    expect(loaded.labels).toEqual([...MEAD_EMOTIONS_7]);
    const c = loaded.encode(['fear']);
    expect(Array.from(c.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(() => table.encode(['contempt'])).toThrow(/labels\[0\]/);
    writeSafetensors(join(dir, 'bad.safetensors'), { x: tf.zeros([1]) }, { format: 'other' });
    expect(() => LabelEmbeddingTable.load(join(dir, 'bad.safetensors'))).toThrow(FormatError);
    expect(() => new LabelEmbeddingTable(['a', 'a'])).toThrow(/distinct/);
    tf.dispose([a, b, c]);
    [table, again, loaded].forEach((t) => t.dispose());
  });
});
