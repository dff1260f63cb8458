/**
 * The options several `ca` subcommands share, so they read and print the same everywhere. Add them with
 * `command.addOption(runOption())`.
 *
 * @example
 * ```ts
 * import { Command } from 'commander';
 * import { configOption, runOption, shardOption } from './options.js';
 * new Command('render').addOption(runOption()).addOption(configOption()).addOption(shardOption());
 * ```
 *
 * @packageDocumentation
 */
import { InvalidArgumentError, Option } from 'commander';

/**
 * `--run <dir>` (required): the run folder.
 * @example
 * ```ts
 * command.addOption(runOption());
 * ```
 */
export function runOption(): Option {
  return new Option('--run <dir>', 'the run folder (created on first use; config.json, manifest.json, checkpoints/, logs/, outputs/)').makeOptionMandatory();
}

/**
 * `--config <file>`: a JSON config file, validated (unknown fields are errors).
 * @example
 * ```ts
 * command.addOption(configOption());
 * ```
 */
export function configOption(): Option {
  return new Option('--config <file>', "a JSON config file (default: the run folder's config.json, else the defaults)");
}

/**
 * `--data <dir>`: a dataset folder (INSTA layout, e.g. from `ca synth`; NeRFace / IMAvatar with `--layout`).
 * @example
 * ```ts
 * command.addOption(dataOption());
 * ```
 */
export function dataOption(): Option {
  return new Option('--data <dir>', "the dataset folder (default: the run folder's config)");
}

/**
 * `--layout <name>`: the dataset's folder layout.
 * @example
 * ```ts
 * command.addOption(layoutOption());
 * ```
 */
export function layoutOption(): Option {
  return new Option('--layout <name>', 'the dataset folder layout').choices(['insta', 'nerface', 'imavatar']);
}

/**
 * `--backbone <dir>`: a diffusers Stable Diffusion folder on disk (nothing is downloaded).
 * @example
 * ```ts
 * command.addOption(backboneOption());
 * ```
 */
export function backboneOption(): Option {
  return new Option('--backbone <dir>', 'a diffusers SD folder (unet/, vae/) you own, as the frozen stage-3 backbone (local files only)');
}

/**
 * `--flame <dir>`: a folder with your FLAME files for stage 1 (see `readFlameFolder`).
 * @example
 * ```ts
 * command.addOption(flameOption());
 * ```
 */
export function flameOption(): Option {
  return new Option('--flame <dir>', "your FLAME folder for stage 1 on a real dataset: flame2020.npz (from FLAME's pkl) and head_template_mesh.obj (default: the synthetic head)");
}

/**
 * `--shard <i/n | n>`: run one shard of the work (see `parseShard`).
 * @example
 * ```ts
 * command.addOption(shardOption());
 * ```
 */
export function shardOption(): Option {
  return new Option('--shard <spec>', "run shard i of n ('i/n', 0-based), or 'n' with the index from JOB_COMPLETION_INDEX / SLURM_ARRAY_TASK_ID");
}

/**
 * `--seed <n>`: an integer seed.
 * @example
 * ```ts
 * command.addOption(seedOption());
 * ```
 */
export function seedOption(): Option {
  return new Option('--seed <n>', 'the seed (an integer)').argParser(parseInteger('--seed'));
}

/**
 * A commander argument parser for a non-negative integer flag (errors name the flag).
 * @param flag - named in the error.
 * @returns the parser.
 * @example
 * ```ts
 * new Option('--frames <n>').argParser(parseInteger('--frames'));
 * ```
 */
export function parseInteger(flag: string): (value: string) => number {
  return (value: string) => {
    if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError(`${flag} expected a non-negative integer, got '${value}'`);
    return Number(value);
  };
}
