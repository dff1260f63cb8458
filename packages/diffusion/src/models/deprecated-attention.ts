/**
 * Older diffusers checkpoints (before the attention refactor: the VAE's and UNet2DModel's `AttentionBlock`) name an
 * attention layer's projections `query`, `key`, `value` and `proj_attn`. diffusers renames them on load
 * (`ModelMixin._convert_deprecated_attention_blocks`: query → to_q, key → to_k, value → to_v, proj_attn →
 * to_out.0, weights and biases; `group_norm` unchanged). This does the same for a state dict about to be loaded
 * into a model: a key `<path>.query.weight` is renamed when the model has `<path>.to_q.weight` and the dict does not
 * (a dict that is already converted passes through unchanged).
 *
 * @example
 * ```ts
 * import { convertDeprecatedAttentionKeys } from '@consistent-avatar/diffusion';
 * const { dict, renamed } = convertDeprecatedAttentionKeys(tensors, vae.namedParameters().map(([k]) => k));
 * console.log(renamed[0]); // ['decoder.mid_block.attentions.0.query.weight', 'decoder.mid_block.attentions.0.to_q.weight']
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';

/**
 * Deprecated projection name → current one.
 * @example
 * ```ts
 * DEPRECATED_ATTENTION_NAMES.proj_attn; // 'to_out.0'
 * ```
 */
export const DEPRECATED_ATTENTION_NAMES: Readonly<Record<string, string>> = { query: 'to_q', key: 'to_k', value: 'to_v', proj_attn: 'to_out.0' };

/**
 * Rename deprecated attention keys of `dict` to the names `modelKeys` uses (see the module docs).
 * @param dict - tensors by key (not copied; the values are reused).
 * @param modelKeys - the model's parameter names (torch layout names).
 * @returns the converted dict and the `[old, new]` pairs renamed.
 * @example
 * ```ts
 * convertDeprecatedAttentionKeys({ 'mid.attentions.0.query.bias': t }, ['mid.attentions.0.to_q.bias']).renamed;
 * // [['mid.attentions.0.query.bias', 'mid.attentions.0.to_q.bias']]
 * ```
 */
export function convertDeprecatedAttentionKeys<T>(dict: Record<string, T>, modelKeys: Iterable<string>): { dict: Record<string, T>; renamed: [string, string][] } {
  const fn = 'convertDeprecatedAttentionKeys';
  if (dict === null || typeof dict !== 'object') throw new ValidationError(fn, 'dict', 'a record of key → tensor', dict);
  if (modelKeys == null || typeof (modelKeys as Iterable<string>)[Symbol.iterator] !== 'function') throw new ValidationError(fn, 'modelKeys', "the model's parameter names", modelKeys);
  const wanted = new Set(modelKeys);
  const out: Record<string, T> = {};
  const renamed: [string, string][] = [];
  for (const [key, value] of Object.entries(dict)) {
    const m = /^(.*)\.(query|key|value|proj_attn)\.(weight|bias)$/.exec(key);
    const target = m ? `${m[1]}.${DEPRECATED_ATTENTION_NAMES[m[2]!]}.${m[3]}` : null;
    if (target && wanted.has(target) && !(target in dict) && !wanted.has(key)) {
      out[target] = value;
      renamed.push([key, target]);
    } else {
      out[key] = value;
    }
  }
  return { dict: out, renamed };
}
