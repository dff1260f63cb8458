/**
 * Named starting points for a method run's config. `quick` is tiny networks and a few steps per training: it runs
 * the whole method end to end in well under a minute on a CPU (a smoke test and the CI check, not a result; its
 * numbers say nothing about the method).
 *
 * @example
 * ```ts
 * import { METHOD_PRESETS, runMethod } from '@consistent-avatar/avatar';
 * await runMethod({ ...METHOD_PRESETS.quick, data: 'data/synthetic', out: 'runs/smoke', seed: 0 });
 * ```
 *
 * @packageDocumentation
 */
import type { RunMethodOptions } from './run-method.js';

/** A preset: the config sections of {@link RunMethodOptions} it sets. */
export type MethodPreset = Pick<RunMethodOptions, 'proxy' | 'tsdm' | 'fcsd' | 'alignEnsemble'>;

/**
 * The presets by name (`none`: the library's defaults; `quick`: tiny, for smoke tests and CI).
 * @example
 * ```ts
 * METHOD_PRESETS.quick.tsdm?.iterations; // 4
 * ```
 */
export const METHOD_PRESETS: Readonly<Record<'none' | 'quick', MethodPreset>> = {
  none: {},
  quick: {
    proxy: { steps: 5, textureSize: 16, batchPixels: 512 },
    tsdm: { size: 16, tsdRadius: 2, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, encoderWidth: 8, iterations: 4, checkpointEvery: 2, logEvery: 2 },
    alignEnsemble: 1,
    fcsd: {
      size: 16, unetChannels: [8, 16], normGroups: 4, attentionHeads: 2, tokenDim: 16, textDim: 8, encoderWidth: 8, conditioningChannels: [8], batchSize: 2,
      backboneIterations: 4, controlIterations: 4, lcmIterations: 2, lcmDdimTimesteps: 10, ddimSteps: 3, checkpointEvery: 2, logEvery: 1,
    },
  },
};
