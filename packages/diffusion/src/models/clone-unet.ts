/**
 * Copying a UNet together with what is attached to it: the same config (plus overrides), the same attention-processor
 * layout — plain {@link AttnProcessor} and IP-Adapter {@link IPAdapterAttnProcessor} (diffusers `load_ip_adapter`'s
 * layout: sizes, tokens per adapter, scales) — the same `encoder_hid_proj` image projection, and every weight. The
 * copy is independent of the source (its own variables, all trainable) and is what the LCM student
 * (`lcmStudentFromTeacher`) and an SDXL-style refiner start from.
 *
 * @example
 * ```ts
 * import { UNet2DConditionModel, attachIPAdapter, cloneUNet } from '@consistent-avatar/diffusion';
 * const unet = new UNet2DConditionModel({ block_out_channels: [32, 48], layers_per_block: 1, norm_num_groups: 8, cross_attention_dim: 32,
 *   down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'] }, { seed: 0 });
 * attachIPAdapter(unet, { numTokens: 4, scale: 0.7, seed: 1 });
 * const copy = cloneUNet(unet);                                    // same processors and weights
 * const student = cloneUNet(unet, { time_cond_proj_dim: 32 });     // + a zero time_embedding.cond_proj
 * console.log(Object.values(copy.attentionProcessors()).map((p) => p.kind)); // ['AttnProcessor', 'IPAdapterAttnProcessor', …]
 * ```
 */
import { ValidationError } from '@consistent-avatar/core';
import { AttnProcessor, IPAdapterAttnProcessor, type AttentionProcessor } from './attention-processors.js';
import { ImageProjection, MultiIPAdapterImageProjection } from './image-projection.js';
import { UNet2DConditionModel, type UNet2DConditionConfig } from './unet-2d-condition.js';

const FN = 'cloneUNet';

/**
 * A copy of `source` (config with `overrides`, processors, image projection, weights).
 *
 * Parameters the source does not have (e.g. `time_embedding.cond_proj.weight` when `overrides` adds
 * `time_cond_proj_dim`) start at zero.
 *
 * @param source - the UNet to copy (not modified).
 * @param overrides - config fields to change; they must keep every copied weight's shape.
 * @returns a new UNet; the caller disposes it.
 * @throws ValidationError for a processor other than `AttnProcessor` / `IPAdapterAttnProcessor` (its kind and name
 *   are given) or overrides that change a weight's shape.
 * @example
 * ```ts
 * const refiner = cloneUNet(trainedUnet); // fine-tune it without touching the original
 * ```
 */
export function cloneUNet(source: UNet2DConditionModel, overrides: Partial<UNet2DConditionConfig> = {}): UNet2DConditionModel {
  if (!(source instanceof UNet2DConditionModel)) throw new ValidationError(FN, 'source', 'a UNet2DConditionModel', source);
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) throw new ValidationError(FN, 'overrides', 'an object of UNet config fields', overrides);
  const copy = new UNet2DConditionModel({ ...source.config, ...overrides }, { init: 'zeros' });
  try {
    // 1. The processor layout: plain layers keep the default AttnProcessor; IP-Adapter layers get one of the same shape.
    const processors: Record<string, AttentionProcessor> = {};
    // Exact classes: a subclass may carry behaviour or weights this copy would lose.
    for (const [name, proc] of Object.entries(source.attentionProcessors())) {
      const cls = Object.getPrototypeOf(proc) as object;
      if (cls === IPAdapterAttnProcessor.prototype) {
        const ip = proc as IPAdapterAttnProcessor;
        processors[name] = new IPAdapterAttnProcessor({ hiddenSize: ip.hiddenSize, crossAttentionDim: ip.crossAttentionDim, numTokens: [...ip.numTokens], scale: [...ip.scale], init: 'zeros' });
      } else if (cls !== AttnProcessor.prototype) {
        throw new ValidationError(FN, `source.${name}`, 'an AttnProcessor or IPAdapterAttnProcessor (other processors cannot be copied)', proc.kind);
      }
    }
    copy.setAttentionProcessors(processors);
    // 2. The image projection of IP-Adapter image embeddings, when attached.
    const projection = source.encoderHidProj;
    if (projection) {
      const layers = projection.image_projection_layers.items.map((l) => new ImageProjection({ imageEmbedDim: l.imageEmbedDim, crossAttentionDim: l.crossAttentionDim, numImageTextEmbeds: l.numImageTextEmbeds, init: 'zeros' }));
      copy.setEncoderHidProj(new MultiIPAdapterImageProjection(layers));
    }
    // 3. Every weight; only parameters new to the copy may be missing.
    const report = copy.loadStateDict(source.stateDict(), { strict: false });
    if (report.unexpected.length || report.mismatched.length) {
      throw new ValidationError(FN, 'overrides', 'config fields that keep every weight of the source', [...report.mismatched, ...report.unexpected].slice(0, 5).join(', '));
    }
    return copy;
  } catch (error) {
    copy.dispose();
    throw error;
  }
}
