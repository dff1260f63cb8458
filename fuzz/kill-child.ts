/**
 * The child process of the kill-and-resume tests: runs one scenario of `fuzz/kill-scenarios.ts` into a folder and
 * prints its outcome as one `OUTCOME {json}` line. Started with the fault-injection preload, which kills it (SIGKILL)
 * at the file-system call the test chose (see `fuzz/faults.ts`):
 *
 * @example
 * ```ts
 * // CA_FAULT_ROOT=/tmp/run CA_FAULT_KILL_AT=17 node --conditions=source --import tsx --import ./fuzz/faults.ts \
 * //   fuzz/kill-child.ts toy /tmp/run
 * ```
 */
import { loadScenario, scenarioBackend } from './kill-scenarios.js';

const [name, runDir, dataset] = process.argv.slice(2);
const scenario = name ? await loadScenario(name) : undefined;
if (!scenario || !runDir) throw new Error('usage: kill-child.ts <toy|tsdm|fcsd|lcm|refiner|pose-expression|proxy|synthesis|resynthesis> <runDir> [dataset]');
await scenarioBackend();
const outcome = await scenario(runDir, { dataset });
console.log(`OUTCOME ${JSON.stringify(outcome)}`);
