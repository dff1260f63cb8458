/**
 * Shared by the bench and evaluation scripts: the provenance every result file carries (issue 17) — the command,
 * the git commit (and whether the tree had uncommitted changes), the date, the machine and its load average.
 * Import with a relative path (`../../../scripts/bench/result-meta.js`); benches are not published.
 */
import { execSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';

/** Provenance of a result file. */
export interface ResultMeta {
  command: string;
  commit: string | null;
  /** True when the working tree had uncommitted changes when the run started. */
  dirty: boolean | null;
  date: string;
  machine: { cpus: number; cpuModel: string | null; memoryGiB: number; loadAverage: number[]; node: string; platform: string };
}

const git = (args: string): string | null => {
  try {
    return execSync(`git ${args}`, { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
  } catch {
    return null;
  }
};

/**
 * The provenance of a run, now.
 * @param script - the script's path from the repository root (e.g. `packages/avatar/bench/eval-stage12.ts`).
 * @param command - the command line, when it is not `node … script args` (e.g. a `CA_HEAVY=1 npx vitest run …` test).
 */
export function resultMeta(script: string, args: readonly string[] = process.argv.slice(2), command?: string): ResultMeta {
  const status = git('status --porcelain --untracked-files=no');
  return {
    command: command ?? `node --conditions=source --import tsx ${script} ${args.join(' ')}`.trim(),
    commit: git('rev-parse HEAD'),
    dirty: status === null ? null : status.length > 0,
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? null, memoryGiB: Math.round(totalmem() / 2 ** 30), loadAverage: loadavg(), node: process.version, platform: process.platform },
  };
}
