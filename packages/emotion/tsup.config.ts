import { copyFileSync } from 'node:fs';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // The 'wasm' cosine kernel starts `new Worker(new URL('./retrieval-worker.mjs', import.meta.url))`: the worker is
  // plain JavaScript and must sit next to index.js.
  onSuccess: async () => {
    copyFileSync('src/retrieval-worker.mjs', 'dist/retrieval-worker.mjs');
  },
});
