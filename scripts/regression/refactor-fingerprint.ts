/**
 * Refactor fingerprint: a fixed-seed stage-1 → stage-2 run whose numbers must not change when code moves.
 *
 * It synthesises a small dataset, fits the proxy, prepares TSD pairs, trains the TSDM for 30 steps and aligns a few
 * held-out frames — once with a tiny config (the version `packages/avatar/test/refactor-fingerprint.test.ts` re-runs
 * in CI) and once with the default TSDM config at 32² — and writes every loss and aligned value to JSON.
 *
 * This is a regression pin, not a correctness check: the expected numbers are what the code computed before a
 * refactor (`results/refactor-fingerprint-before.json`, commit db4e77f), so a refactor that claims "no arithmetic
 * changed" can prove it.
 *
 *   node --conditions=source --import tsx scripts/regression/refactor-fingerprint.ts --out FILE [--tiny-only]
 */
import { execSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tf, useBackend } from '@consistent-avatar/core';
import { FINGERPRINT_TINY, runFingerprint } from '../../packages/avatar/test/fingerprint.js';

const args = process.argv.slice(2);
const out = args.includes('--out') ? args[args.indexOf('--out') + 1]! : 'refactor-fingerprint.json';
const tinyOnly = args.includes('--tiny-only');

await useBackend('wasm');
const results = [await runFingerprint('tiny', FINGERPRINT_TINY, { frames: 8, size: 16, test: 2 }, 5)];
if (!tinyOnly) results.push(await runFingerprint('default-32', { iterations: 30, seed: 0, checkpointEvery: 100, logEvery: 10 }, { frames: 24, size: 64, test: 3 }, 10));
const commit = execSync('git rev-parse HEAD').toString().trim();
writeFileSync(out, JSON.stringify({ command: `node --conditions=source --import tsx scripts/regression/refactor-fingerprint.ts ${args.join(' ')}`, commit, date: new Date().toISOString(), backend: tf.getBackend(), results }, null, 1) + '\n');
console.log(`wrote ${out} (commit ${commit}); tiny losses ${results[0]!.stepLosses.slice(0, 3).join(', ')} …`);
