/**
 * Config checks shared by the UNet and the ControlNet (whose encoder half is a copy of the UNet's): one value or
 * one value per down block, positive integers, and the down-block channel / type lists.
 *
 * @example
 * ```ts
 * import { perBlock } from './config-checks.js'; // internal to the diffusion package
 * perBlock('UNet2DConditionModel', 2, 3, 'layers_per_block'); // [2, 2, 2]
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

/** Expand a per-block setting to `n` values (one value is repeated); throws naming `fn` and `config.${name}`. */
export function perBlock<T>(fn: string, v: T | T[], n: number, name: string): T[] {
  const list = Array.isArray(v) ? v : new Array<T>(n).fill(v);
  if (list.length !== n) throw new ValidationError(fn, `config.${name}`, `one value or ${n} values (one per down block)`, v);
  return list;
}

/** Throw unless `v` is a positive integer. */
export function checkPositiveInt(fn: string, name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new ValidationError(fn, `config.${name}`, 'a positive integer', v);
}

/**
 * Check `block_out_channels` (non-empty, positive, multiples of `norm_num_groups`) and `down_block_types` (one of
 * the two supported types per block). Returns the number of down blocks.
 */
export function checkDownBlocks(
  fn: string,
  c: { norm_num_groups: number; block_out_channels: number[]; down_block_types: string[] },
): number {
  if (!Array.isArray(c.block_out_channels) || c.block_out_channels.length === 0) throw new ValidationError(fn, 'config.block_out_channels', 'a non-empty array', c.block_out_channels);
  c.block_out_channels.forEach((ch, i) => {
    checkPositiveInt(fn, `block_out_channels[${i}]`, ch);
    if (ch % c.norm_num_groups) throw new ValidationError(fn, `config.block_out_channels[${i}]`, `a multiple of norm_num_groups (${c.norm_num_groups})`, ch);
  });
  const n = c.block_out_channels.length;
  if (!Array.isArray(c.down_block_types) || c.down_block_types.length !== n || !c.down_block_types.every((t) => t === 'CrossAttnDownBlock2D' || t === 'DownBlock2D')) {
    throw new ValidationError(fn, 'config.down_block_types', `${n} of 'CrossAttnDownBlock2D' | 'DownBlock2D'`, c.down_block_types);
  }
  return n;
}
