import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

const pkg = (name: string) => fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url));

// Tests run against src (not dist): the workspace packages resolve to their sources.
export default defineConfig({
  resolve: {
    alias: {
      '@consistent-avatar/core': pkg('core'),
      '@consistent-avatar/proxy': pkg('proxy'),
      '@consistent-avatar/avatar': pkg('avatar'),
      '@consistent-avatar/tsd': pkg('tsd'),
      '@consistent-avatar/diffusion': pkg('diffusion'),
      '@consistent-avatar/emotion': pkg('emotion'),
      '@consistent-avatar/metrics': pkg('metrics'),
    },
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'examples/**/*.test.ts', 'fuzz/**/*.test.ts'],
    // Two cores on the reference machine; tensor tests are CPU-bound, so one worker at a time per core.
    pool: 'forks',
    maxWorkers: 2,
    // Inert unless CA_TEST_NATIVE_RECORDS is set: scripts/test-both.ts's first pass records what the native kernel
    // provider ran in each file, to choose the files its second pass reruns with the provider off.
    setupFiles: ['scripts/test-both/record-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
