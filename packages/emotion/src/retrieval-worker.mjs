// Worker thread of the 'wasm' cosine kernel (see wasm-cosine-search.ts, which starts it, and wasm-cosine-kernel.ts,
// which assembles the module it runs). Plain JavaScript on purpose: Node 20 cannot start a worker from a .ts file,
// and this file must run unchanged from src/ (tests, tsx) and from dist/ (tsup copies it next to index.js).
//
// workerData: { module: WebAssembly.Module, memory: WebAssembly.Memory (shared), layout }, where layout holds the
// byte offsets of the database blocks, the shared query tiles and this worker's own scratch (thresholds, hit tile,
// candidate records). Each 'search' message scans the blocks [firstBlock, endBlock) for all queries of the current
// query group and answers with the screening candidates { query, row, score } of its row range: every row whose
// float32 score is within `delta` of the running k-th best of its query. Errors are posted back, never swallowed.
import { parentPort, workerData } from 'node:worker_threads';

const { module, memory, layout } = workerData;
const { scanBlock } = new WebAssembly.Instance(module, { env: { memory } }).exports;

/** Growable candidate store (query, row, score) with pruning against the current thresholds. */
class Candidates {
  constructor() {
    this.query = new Int32Array(1024);
    this.row = new Int32Array(1024);
    this.score = new Float32Array(1024);
    this.length = 0;
    this.prunedLength = 0;
  }
  push(q, r, f) {
    if (this.length === this.query.length) {
      const grow = (a) => {
        const b = new a.constructor(a.length * 2);
        b.set(a);
        return b;
      };
      this.query = grow(this.query);
      this.row = grow(this.row);
      this.score = grow(this.score);
    }
    this.query[this.length] = q;
    this.row[this.length] = r;
    this.score[this.length] = f;
    this.length++;
  }
  /** Drop candidates below their query's threshold (thresholds only rise, so a dropped row can never qualify). */
  prune(thresholds) {
    let w = 0;
    for (let i = 0; i < this.length; i++) {
      if (this.score[i] >= thresholds[this.query[i]]) {
        this.query[w] = this.query[i];
        this.row[w] = this.row[i];
        this.score[w] = this.score[i];
        w++;
      }
    }
    this.length = w;
    this.prunedLength = w;
  }
}

function search({ firstBlock, endBlock, queries, queryTiles, k, delta }) {
  const { dbPtr, blockBytes, blockRows, rows, queriesPtr, queryTile } = layout;
  const { thresholdsPtr, hitPtr, candidatesPtr } = layout.scratch;
  const f32 = new Float32Array(memory.buffer);
  const i32 = new Int32Array(memory.buffer);
  const padded = queryTiles * queryTile;
  const thresholds = f32.subarray(thresholdsPtr / 4, thresholdsPtr / 4 + padded);
  thresholds.fill(-Infinity, 0, queries);
  thresholds.fill(Infinity, queries); // padded queries never produce candidates
  // Screening top-k per query (float32 scores, descending); the threshold is the k-th best minus delta.
  const best = new Float32Array(queries * k).fill(-Infinity);
  const kept = new Candidates();
  for (let block = firstBlock; block < endBlock; block++) {
    const rowBase = block * blockRows;
    const validRows = Math.min(blockRows, rows - rowBase);
    const count = scanBlock(dbPtr + block * blockBytes, validRows, rowBase, queriesPtr, queryTiles, thresholdsPtr,
      hitPtr, candidatesPtr, 0, k === 1 ? 1 : 0, delta);
    if (count === 0) continue;
    let c = candidatesPtr / 4;
    for (let i = 0; i < count; i++, c += 3) {
      const q = i32[c];
      const f = f32[c + 2];
      kept.push(q, i32[c + 1], f);
      // insert f into the query's sorted top-k screening scores
      const base = q * k;
      if (f > best[base + k - 1]) {
        let pos = k - 1;
        while (pos > 0 && best[base + pos - 1] < f) {
          best[base + pos] = best[base + pos - 1];
          pos--;
        }
        best[base + pos] = f;
        const t = Math.fround(best[base + k - 1] - delta);
        if (t > thresholds[q]) thresholds[q] = t;
      }
    }
    if (kept.length > 2 * kept.prunedLength + 4096) kept.prune(thresholds);
  }
  kept.prune(thresholds);
  return {
    query: kept.query.slice(0, kept.length),
    row: kept.row.slice(0, kept.length),
    score: kept.score.slice(0, kept.length),
  };
}

parentPort.on('message', (message) => {
  try {
    const result = search(message);
    parentPort.postMessage({ id: message.id, ...result }, [result.query.buffer, result.row.buffer, result.score.buffer]);
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
});
