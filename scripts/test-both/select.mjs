/**
 * Which test files the second pass of `scripts/test-both.mjs` (the provider off) must run, from the records the
 * first pass (the whole suite with `CA_NATIVE=1`) wrote through `record-setup.ts`.
 *
 * ## Why a file that routed nothing need not run again
 * With the provider on, `packages/core/src/native/provider.ts` replaces the wasm backend's `Conv2D`,
 * `Conv2DBackpropInput`, `Conv2DBackpropFilter` and `BatchMatMul` kernels by wrappers (`install()`): the wrapper
 * first runs `registerWasmTrainingKernels()` (idempotent: the same registration the provider-off path has made in
 * `initBackend`), takes `tf.getKernel(kernel, 'wasm')` — the very kernel config that runs when the provider is off,
 * including core's SIMD `BatchMatMul` — and re-registers it with only `kernelFunc` changed. That `kernelFunc` calls
 * `runNative`, which either returns an ONNX Runtime output (counted in `counters[kernel].native`) or returns `null`
 * before touching any tensor, except when it had allocated the output and disposes of it again (no heap, or ONNX
 * Runtime threw); the wrapper then counts a fallback and returns `original.kernelFunc(args)` with the same
 * arguments. So every call that did not run natively ran the provider-off kernel on the same inputs.
 *
 * One more thing changes while the provider is enabled: `preferConv2DBackpropInputKernel(true)` makes the gradient
 * of a stride-1 `Conv2D` on wasm call the `Conv2DBackpropInput` kernel, where the provider-off path composes the
 * input gradient from forward convolutions (`kernels/register.ts`, `GRADIENTS`). When such a call falls back it runs
 * tfjs-wasm's own `Conv2DBackpropInput`, a different computation from the provider-off one; so a file with any
 * `Conv2DBackpropInput` call (native or fallback) is rerun. Nothing else in the library reads the provider's state.
 *
 * Hence a file needs the second pass when, in the first:
 *  - any kernel ran natively (`native > 0`), or `Conv2DBackpropInput` was called at all (see above);
 *  - it started a child process other than a known native program (ffmpeg, chromium, git: they cannot load the
 *    provider) — the child's kernels are not observable from here and its environment inherits `CA_NATIVE=1` —, or
 *    the counters went down under it (a test reset them: calls may have been lost);
 *  - its source calls the provider's controls itself ({@link controlsProvider}: a reset at the wrong moment can hide
 *    calls from the per-test sampling);
 *  - it left no record (it crashed, timed out or failed to load).
 * Where ONNX Runtime is not installed (no record saw it), the first pass is the plain suite and there is no second.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Version of the record format written by `record-setup.ts`. */
export const RECORD_VERSION = 1;

/** The kernels the provider wraps (`NATIVE_KERNELS` in core's provider.ts; a test checks the two agree). */
export const RECORDED_KERNELS = ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'BatchMatMul'];

/**
 * Programs a test may start that cannot load our provider (native executables, not Node): their children are not
 * counted as unobserved kernel calls.
 */
const NON_NODE_PROGRAMS = new Set(['ffmpeg', 'ffprobe', 'chromium', 'chromium-browser', 'google-chrome', 'git']);

/** Source patterns of a test that drives the provider itself. */
const PROVIDER_CONTROLS = /\b(enableNativeKernels|disableNativeKernels|resetNativeKernelStats|preferConv2DBackpropInputKernel|simulateOrtAbsent)\b|\bCA_NATIVE\b/;

/**
 * Zero counters for every recorded kernel.
 * @returns `{ Conv2D: { native: 0, fallback: 0 }, … }`
 */
export function emptyTotals() {
  return Object.fromEntries(RECORDED_KERNELS.map((k) => [k, { native: 0, fallback: 0 }]));
}

/**
 * Add one sample of the provider's counters to the running totals. A counter below its last sample means it was
 * reset in between: the calls since the reset (its current value) are added and `reset` is set.
 * @param {Record<string, {native: number, fallback: number}>} totals - sums so far
 * @param {Record<string, {native: number, fallback: number}>} last - the previous sample
 * @param {Record<string, {native: number, fallback: number}>} counters - `nativeKernelStatus().counters` now
 * @returns {{ totals: Record<string, {native: number, fallback: number}>, last: Record<string, {native: number, fallback: number}>, reset: boolean }}
 */
export function accumulateCounters(totals, last, counters) {
  let reset = false;
  const nextTotals = emptyTotals();
  const nextLast = emptyTotals();
  for (const kernel of RECORDED_KERNELS) {
    for (const field of ['native', 'fallback']) {
      const now = counters[kernel]?.[field] ?? 0;
      const before = last[kernel][field];
      const added = now >= before ? now - before : ((reset = true), now);
      nextTotals[kernel][field] = totals[kernel][field] + added;
      nextLast[kernel][field] = now;
    }
  }
  return { totals: nextTotals, last: nextLast, reset };
}

/**
 * The record's file name for a test file path relative to the repository root.
 * @param {string} testFile - e.g. `packages/core/src/nn/layers.test.ts`
 * @returns {string} e.g. `packages__core__src__nn__layers.test.ts.json`
 */
export function recordFileName(testFile) {
  return `${testFile.split('/').join('__')}.json`;
}

/**
 * True when a test file's source drives the provider itself (enables, disables or resets it, or sets `CA_NATIVE`).
 * @param {string} source - the test file's text
 * @returns {boolean}
 */
export function controlsProvider(source) {
  return PROVIDER_CONTROLS.test(source);
}

const isCount = (v) => Number.isInteger(v) && v >= 0;

/** Check one parsed record; returns a description of what is wrong, or null. */
function recordProblem(r) {
  if (r === null || typeof r !== 'object') return 'not an object';
  if (r.version !== RECORD_VERSION) return `version ${JSON.stringify(r.version)} (expected ${RECORD_VERSION})`;
  if (typeof r.file !== 'string' || !r.file) return 'no "file"';
  for (const key of ['ortAvailable', 'active', 'countersReset']) if (typeof r[key] !== 'boolean') return `"${key}" is not a boolean`;
  for (const key of ['reason', 'ortReason']) if (typeof r[key] !== 'string') return `"${key}" is not a string`;
  if (!Array.isArray(r.childProcesses) || !r.childProcesses.every((c) => typeof c === 'string')) return '"childProcesses" is not a list of strings';
  for (const kernel of RECORDED_KERNELS) {
    const c = r.counters?.[kernel];
    if (!c || !isCount(c.native) || !isCount(c.fallback)) return `"counters.${kernel}" is not { native, fallback } counts`;
  }
  return null;
}

/**
 * Read every record in a folder (written by `record-setup.ts`).
 * @param {string} dir - the records folder
 * @returns {Map<string, object>} test file (relative path) → record
 * @throws {Error} naming the file, when a record is not valid JSON or not a version-1 record, or two records name
 *   the same test file
 */
export function readRecords(dir) {
  const records = new Map();
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.json')).sort()) {
    const path = join(dir, name);
    let record;
    try {
      record = JSON.parse(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new Error(`test-both: native-kernel record ${path} is not valid JSON (${error.message}); delete the folder and rerun`);
    }
    const problem = recordProblem(record);
    if (problem) throw new Error(`test-both: native-kernel record ${path} is malformed: ${problem}; delete the folder and rerun`);
    if (records.has(record.file)) throw new Error(`test-both: two native-kernel records name ${record.file} (${path})`);
    records.set(record.file, record);
  }
  return records;
}

const kernelSummary = (counters, field) =>
  RECORDED_KERNELS.filter((k) => counters[k][field] > 0).map((k) => `${k} ${counters[k][field]}`).join(', ');

/**
 * Choose the second pass's files.
 * @param {{ files: string[], records: Map<string, object>, sources: Map<string, string> }} input - every test file
 *   of the first pass (relative paths), their records, and their source texts
 * @returns {{ ortAvailable: boolean, ortReason: string, selected: {file: string, why: string[]}[], skipped: string[] }}
 *   `selected` is empty when ONNX Runtime is absent (`ortReason` says why)
 * @throws {Error} when ONNX Runtime was available but no record counts a native call (the recorder is blind)
 */
export function selectSecondPass({ files, records, sources }) {
  const all = [...records.values()];
  const ortAvailable = all.some((r) => r.ortAvailable);
  if (!ortAvailable) {
    const reason = all.find((r) => r.ortReason)?.ortReason ?? (all.length ? 'no test file saw ONNX Runtime' : 'no native-kernel records were written');
    return { ortAvailable, ortReason: reason, selected: [], skipped: [...files] };
  }
  // The provider tests alone route calls natively; none anywhere means the recorder read another instance of the
  // provider than the tests used, and "routed nothing" would be believed for every file.
  if (!all.some((r) => RECORDED_KERNELS.some((k) => r.counters[k].native > 0))) {
    throw new Error('test-both: ONNX Runtime is available but no test file recorded a native kernel call: the recorder (scripts/test-both/record-setup.ts) does not see the provider the tests use');
  }
  const selected = [];
  const skipped = [];
  for (const file of files) {
    const r = records.get(file);
    const why = [];
    if (!r) why.push('no record (the file did not finish)');
    else {
      const native = kernelSummary(r.counters, 'native');
      if (native) why.push(`native: ${native}`);
      const backpropInput = r.counters.Conv2DBackpropInput;
      if (backpropInput.fallback > 0) why.push(`Conv2DBackpropInput fallbacks: ${backpropInput.fallback} (tfjs-wasm's kernel, not the provider-off composed gradient)`);
      const children = [...new Set(r.childProcesses)].filter((c) => !NON_NODE_PROGRAMS.has(c.split('/').pop()));
      if (children.length) why.push(`child processes: ${children.join(', ')}`);
      if (r.countersReset) why.push('counters were reset during the file');
    }
    if (controlsProvider(sources.get(file) ?? '')) why.push('drives the provider itself');
    if (why.length) selected.push({ file, why });
    else skipped.push(file);
  }
  return { ortAvailable, ortReason: '', selected, skipped };
}
