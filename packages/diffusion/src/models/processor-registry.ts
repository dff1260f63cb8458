/**
 * The attention-processor registry shared by the UNet and the ControlNet (diffusers `attn_processors` /
 * `set_attn_processor`): every {@link Attention} layer of a module tree by its diffusers path, its processor under
 * `<path>.processor`, and installing processors by name or for every layer.
 *
 * @example
 * ```ts
 * import { attentionProcessors, setAttentionProcessor, AttnProcessor } from '@consistent-avatar/diffusion';
 * Object.keys(attentionProcessors(controlnet)); // ['down_blocks.0.attentions.0.transformer_blocks.0.attn1.processor', …]
 * setAttentionProcessor(controlnet, new AttnProcessor());
 * ```
 */
import { nn, ValidationError } from '@consistent-avatar/core';
import { Attention } from './attention.js';
import type { AttentionProcessor } from './attention-processors.js';

function checkModule(fn: string, model: unknown): asserts model is nn.Module {
  if (!(model instanceof nn.Module)) throw new ValidationError(fn, 'model', 'an nn.Module (a UNet or ControlNet)', model);
}

/**
 * Every attention layer with its module path (`down_blocks.0.attentions.0.transformer_blocks.0.attn2`), in
 * registration order.
 * @example
 * ```ts
 * attentionLayers(unet).length; // 2 per transformer block
 * ```
 */
export function attentionLayers(model: nn.Module): Array<[string, Attention]> {
  checkModule('attentionLayers', model);
  const out: Array<[string, Attention]> = [];
  for (const [path, m] of model.namedModules()) if (m instanceof Attention) out.push([path, m]);
  return out;
}

/**
 * Processors by name (`<layer path>.processor`), in diffusers' order (module registration).
 * @example
 * ```ts
 * const names = Object.keys(attentionProcessors(unet));
 * ```
 */
export function attentionProcessors(model: nn.Module): Record<string, AttentionProcessor> {
  const out: Record<string, AttentionProcessor> = {};
  for (const [path, attn] of attentionLayers(model)) out[`${path}.processor`] = attn.processor;
  return out;
}

/**
 * Install processors by name. Names not in {@link attentionProcessors} throw; layers not named keep theirs. Replaced
 * processors are disposed.
 * @param fn - the public method, for the error message.
 * @example
 * ```ts
 * setAttentionProcessors(unet, { 'mid_block.attentions.0.transformer_blocks.0.attn2.processor': new AttnProcessor() });
 * ```
 */
export function setAttentionProcessors(model: nn.Module, processors: Record<string, AttentionProcessor>, fn = 'setAttentionProcessors'): void {
  checkModule(fn, model);
  if (typeof processors !== 'object' || processors === null) throw new ValidationError(fn, 'processors', 'an object {name: processor}', processors);
  const layers = new Map(attentionLayers(model).map(([p, a]) => [`${p}.processor`, a]));
  const unknown = Object.keys(processors).filter((k) => !layers.has(k));
  if (unknown.length) {
    throw new ValidationError(fn, 'processors', `names from attentionProcessors() (e.g. ${[...layers.keys()][0]})`, unknown.slice(0, 5).join(', '));
  }
  for (const [name, proc] of Object.entries(processors)) layers.get(name)!.setProcessor(proc);
}

/**
 * Install one processor kind on every layer: a weight-free processor instance is shared; a factory
 * `(name, layer) => processor` builds one per layer (needed for processors with weights).
 * @param fn - the public method, for the error message.
 * @example
 * ```ts
 * setAttentionProcessor(unet, (name, layer) => new MyProcessor(layer));
 * ```
 */
export function setAttentionProcessor(model: nn.Module, processor: AttentionProcessor | ((name: string, layer: Attention) => AttentionProcessor), fn = 'setAttentionProcessor'): void {
  checkModule(fn, model);
  if (typeof processor !== 'function' && !(processor instanceof nn.Module)) throw new ValidationError(fn, 'processor', 'an AttentionProcessor or a factory (name, layer) => processor', processor);
  if (typeof processor !== 'function' && processor.parameterCount() > 0) {
    throw new ValidationError(fn, 'processor', 'a weight-free processor or a factory (name, layer) => processor', processor.kind);
  }
  for (const [path, attn] of attentionLayers(model)) {
    attn.setProcessor(typeof processor === 'function' ? processor(`${path}.processor`, attn) : processor, attn.processor !== processor);
  }
}
