/**
 * The CLIP text transformer (Hugging Face `CLIPTextModel`), built from core's `nn` layers under Hugging Face's own
 * parameter names, so a `text_encoder` folder (`config.json` + `model.safetensors`) loads with a strict state-dict
 * match — in the current layout and the legacy one (transformers < 4.31 also saved the `position_ids` buffer, which
 * is accepted and ignored).
 *
 * Forward (Radford et al. 2021; `modeling_clip.py`):
 * 1. h₀ = token_embedding[ids] + position_embedding[0..L−1].
 * 2. Per pre-LN encoder layer: h = h + out_proj(attn(layer_norm1(h))); h = h + fc2(act(fc1(layer_norm2(h)))), where
 *    attn is multi-head attention with scores q·kᵀ/√d_head plus the causal mask (query i sees keys 0..i; masked
 *    entries get the float32 minimum added, not −∞) and, when given, the padding mask; softmax in float32.
 * 3. last_hidden_state = final_layer_norm(h_N); `hidden_states` = [h₀, …, h_N] (before the final norm).
 * 4. pooler_output = last_hidden_state at the end-of-text token: the first position of `eos_token_id`, or — for the
 *    legacy `eos_token_id == 2` configs — the argmax of the ids (as transformers does).
 *
 * `act` is `quick_gelu` (x·σ(1.702x), CLIP's), `gelu` (erf) or `gelu_new` / `gelu_pytorch_tanh` per `hidden_act`.
 *
 * @example
 * ```ts
 * import { ClipTextModel, ClipTokenizer } from '@consistent-avatar/emotion';
 * const model = ClipTextModel.fromPretrained('sd-v1-5/text_encoder');
 * const tok = ClipTokenizer.fromFolder('sd-v1-5/tokenizer');
 * const { inputIds } = tok.encodeBatch(['a photo of a happy face']);
 * const out = model.forward(tf.tensor2d(inputIds, [1, 77], 'int32'));
 * out.poolerOutput.shape; // [1, 768]
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, Rng, ValidationError, loadSafetensorsAsTensors, nn, tf } from '@consistent-avatar/core';

/**
 * The fields of a Hugging Face `CLIPTextConfig` this model uses (snake_case, as in `config.json`).
 *
 * @example
 * ```ts
 * const config: ClipTextConfig = { vocab_size: 49408, hidden_size: 768, intermediate_size: 3072,
 *   num_hidden_layers: 12, num_attention_heads: 12, max_position_embeddings: 77, hidden_act: 'quick_gelu',
 *   layer_norm_eps: 1e-5, eos_token_id: 49407 };
 * ```
 */
export interface ClipTextConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  max_position_embeddings: number;
  hidden_act: 'quick_gelu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh';
  layer_norm_eps: number;
  /** End-of-text id; 2 marks a legacy config (pool at the argmax of the ids). Default 2. */
  eos_token_id?: number;
}

/**
 * Output of {@link ClipTextModel.forward}. The caller owns (and disposes) the tensors.
 *
 * @example
 * ```ts
 * const { lastHiddenState, poolerOutput, hiddenStates } = model.forward(ids, { outputHiddenStates: true });
 * ```
 */
export interface ClipTextOutput {
  /** `[B, L, H]` after the final layer norm. */
  lastHiddenState: tf.Tensor3D;
  /** `[B, H]`: last_hidden_state at each row's end-of-text token. */
  poolerOutput: tf.Tensor2D;
  /** `num_hidden_layers + 1` tensors `[B, L, H]` (embeddings, then each layer, before the final norm), if requested. */
  hiddenStates?: tf.Tensor3D[];
}

function validateConfig(config: unknown, source: string): ClipTextConfig {
  const fn = 'ClipTextModel';
  if (config === null || typeof config !== 'object') throw new ValidationError(fn, 'config', 'a CLIPTextConfig object', config);
  const c = config as Record<string, unknown>;
  const positive = [
    'vocab_size',
    'hidden_size',
    'intermediate_size',
    'num_hidden_layers',
    'num_attention_heads',
    'max_position_embeddings',
  ];
  for (const key of positive) {
    if (!Number.isInteger(c[key]) || (c[key] as number) < 1) {
      throw new ValidationError(fn, `config.${key}${source}`, 'a positive integer', c[key]);
    }
  }
  if ((c.hidden_size as number) % (c.num_attention_heads as number) !== 0) {
    throw new ValidationError(fn, `config.hidden_size${source}`, `a multiple of num_attention_heads (${c.num_attention_heads})`, c.hidden_size);
  }
  const act = c.hidden_act ?? 'quick_gelu';
  if (!['quick_gelu', 'gelu', 'gelu_new', 'gelu_pytorch_tanh'].includes(act as string)) {
    throw new ValidationError(fn, `config.hidden_act${source}`, "'quick_gelu', 'gelu', 'gelu_new' or 'gelu_pytorch_tanh'", act);
  }
  const eps = c.layer_norm_eps ?? 1e-5;
  if (typeof eps !== 'number' || !(eps > 0)) throw new ValidationError(fn, `config.layer_norm_eps${source}`, 'a number > 0', eps);
  const eos = c.eos_token_id ?? 2;
  if (!Number.isInteger(eos) || (eos as number) < 0) throw new ValidationError(fn, `config.eos_token_id${source}`, 'an integer ≥ 0', eos);
  return { ...(c as unknown as ClipTextConfig), hidden_act: act as ClipTextConfig['hidden_act'], layer_norm_eps: eps, eos_token_id: eos as number };
}

class ClipTextEmbeddings extends nn.Module {
  readonly tokenEmbedding: nn.Embedding;
  readonly positionEmbedding: nn.Embedding;
  constructor(config: ClipTextConfig, rng: Rng) {
    super();
    this.tokenEmbedding = this.registerModule('token_embedding', new nn.Embedding(config.vocab_size, config.hidden_size, { rng: rng.fork('token') }));
    this.positionEmbedding = this.registerModule(
      'position_embedding',
      new nn.Embedding(config.max_position_embeddings, config.hidden_size, { rng: rng.fork('position') }),
    );
  }
  /** ids `[B, L]` int32 → `[B, L, H]`. */
  forward(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const positions = tf.range(0, ids.shape[1], 1, 'int32'); // [L]
      return tf.add(this.tokenEmbedding.forward(ids), this.positionEmbedding.forward(positions)) as tf.Tensor3D; // [B, L, H]
    });
  }
}

class ClipAttention extends nn.Module {
  readonly qProj: nn.Linear;
  readonly kProj: nn.Linear;
  readonly vProj: nn.Linear;
  readonly outProj: nn.Linear;
  constructor(
    private readonly hidden: number,
    private readonly heads: number,
    rng: Rng,
  ) {
    super();
    this.kProj = this.registerModule('k_proj', new nn.Linear(hidden, hidden, { rng: rng.fork('k') }));
    this.vProj = this.registerModule('v_proj', new nn.Linear(hidden, hidden, { rng: rng.fork('v') }));
    this.qProj = this.registerModule('q_proj', new nn.Linear(hidden, hidden, { rng: rng.fork('q') }));
    this.outProj = this.registerModule('out_proj', new nn.Linear(hidden, hidden, { rng: rng.fork('out') }));
  }
  /** x `[B, L, H]`, additive mask `[B, 1, L, L]` → `[B, L, H]`. */
  forward(x: tf.Tensor3D, mask: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, l] = x.shape;
      const hd = this.hidden / this.heads;
      const split = (t: tf.Tensor) => tf.transpose(tf.reshape(t, [b, l, this.heads, hd]), [0, 2, 1, 3]); // [B, h, L, hd]
      const q = split(this.qProj.forward(x));
      const k = split(this.kProj.forward(x));
      const v = split(this.vProj.forward(x));
      const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), hd ** -0.5), mask); // [B, h, L, L]
      const weights = tf.softmax(scores, -1); // over keys, float32
      const context = tf.matMul(weights, v); // [B, h, L, hd]
      const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [b, l, this.hidden]); // [B, L, H]
      return this.outProj.forward(merged) as tf.Tensor3D;
    });
  }
}

class ClipMlp extends nn.Module {
  readonly fc1: nn.Linear;
  readonly fc2: nn.Linear;
  constructor(
    config: ClipTextConfig,
    rng: Rng,
    private readonly act: ClipTextConfig['hidden_act'],
  ) {
    super();
    this.fc1 = this.registerModule('fc1', new nn.Linear(config.hidden_size, config.intermediate_size, { rng: rng.fork('fc1') }));
    this.fc2 = this.registerModule('fc2', new nn.Linear(config.intermediate_size, config.hidden_size, { rng: rng.fork('fc2') }));
  }
  forward(x: tf.Tensor3D): tf.Tensor3D {
    return tf.tidy(() => {
      const h = this.fc1.forward(x);
      const a =
        this.act === 'quick_gelu' ? nn.quickGelu(h) : this.act === 'gelu' ? nn.gelu(h) : nn.gelu(h, 'tanh');
      return this.fc2.forward(a) as tf.Tensor3D;
    });
  }
}

class ClipEncoderLayer extends nn.Module {
  readonly selfAttn: ClipAttention;
  readonly layerNorm1: nn.LayerNorm;
  readonly mlp: ClipMlp;
  readonly layerNorm2: nn.LayerNorm;
  constructor(config: ClipTextConfig, rng: Rng) {
    super();
    this.selfAttn = this.registerModule('self_attn', new ClipAttention(config.hidden_size, config.num_attention_heads, rng.fork('attn')));
    this.layerNorm1 = this.registerModule('layer_norm1', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
    this.mlp = this.registerModule('mlp', new ClipMlp(config, rng.fork('mlp'), config.hidden_act));
    this.layerNorm2 = this.registerModule('layer_norm2', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
  }
  forward(x: tf.Tensor3D, mask: tf.Tensor4D): tf.Tensor3D {
    return tf.tidy(() => {
      const h = tf.add(x, this.selfAttn.forward(this.layerNorm1.forward(x), mask)) as tf.Tensor3D; // pre-LN residual
      return tf.add(h, this.mlp.forward(this.layerNorm2.forward(h))) as tf.Tensor3D;
    });
  }
}

class ClipEncoder extends nn.Module {
  readonly layers: nn.ModuleList<ClipEncoderLayer>;
  constructor(config: ClipTextConfig, rng: Rng) {
    super();
    this.layers = this.registerModule(
      'layers',
      new nn.ModuleList(Array.from({ length: config.num_hidden_layers }, (_, i) => new ClipEncoderLayer(config, rng.fork(`layer${i}`)))),
    );
  }
}

class ClipTextTransformer extends nn.Module {
  readonly embeddings: ClipTextEmbeddings;
  readonly encoder: ClipEncoder;
  readonly finalLayerNorm: nn.LayerNorm;
  constructor(config: ClipTextConfig, rng: Rng) {
    super();
    this.embeddings = this.registerModule('embeddings', new ClipTextEmbeddings(config, rng.fork('embeddings')));
    this.encoder = this.registerModule('encoder', new ClipEncoder(config, rng.fork('encoder')));
    this.finalLayerNorm = this.registerModule('final_layer_norm', new nn.LayerNorm(config.hidden_size, config.layer_norm_eps));
  }
}

/** Legacy buffer key that transformers < 4.31 saved; accepted and ignored on load. */
const POSITION_IDS_KEY = 'text_model.embeddings.position_ids';

/**
 * Hugging Face `CLIPTextModel` (see the module description). State-dict keys are Hugging Face's
 * (`text_model.encoder.layers.0.self_attn.q_proj.weight`, …); Linear weights are PyTorch `[out, in]`.
 *
 * @example
 * ```ts
 * const model = new ClipTextModel(config, { seed: 0 });  // random init (tests)
 * const out = model.forward(ids);                          // ids: int32 [B, L]
 * out.lastHiddenState.dispose(); out.poolerOutput.dispose();
 * model.dispose();
 * ```
 */
export class ClipTextModel extends nn.Module {
  readonly config: ClipTextConfig;
  private readonly textModel: ClipTextTransformer;

  constructor(config: ClipTextConfig, options: { seed?: number } = {}) {
    super();
    this.config = validateConfig(config, '');
    this.textModel = this.registerModule('text_model', new ClipTextTransformer(this.config, new Rng(options.seed ?? 0)));
    this.eval();
  }

  /**
   * Load a Hugging Face `text_encoder` folder: `config.json` + `model.safetensors` (current layout, or the legacy one
   * with `text_model.embeddings.position_ids`, which must hold 0..L−1 and is then ignored).
   *
   * @example
   * ```ts
   * const model = ClipTextModel.fromPretrained('stable-diffusion-v1-5/text_encoder');
   * ```
   */
  static fromPretrained(dir: string, options: { weightsFile?: string } = {}): ClipTextModel {
    const fn = 'ClipTextModel.fromPretrained';
    if (typeof dir !== 'string' || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ValidationError(fn, 'dir', 'a text_encoder folder with config.json and model.safetensors', dir);
    }
    const configPath = path.join(dir, 'config.json');
    let config: unknown;
    try {
      config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
    } catch (error) {
      throw new FormatError('json', configPath, `cannot read the CLIP text config (${(error as Error).message})`);
    }
    const model = new ClipTextModel(validateConfig(config, ` (${configPath})`));
    try {
      model.loadWeights(path.join(dir, options.weightsFile ?? 'model.safetensors'));
    } catch (error) {
      model.dispose();
      throw error;
    }
    return model;
  }

  /**
   * Load weights from a safetensors file with Hugging Face key names (strict: every key and shape must match, apart
   * from the legacy `position_ids` buffer).
   *
   * @example
   * ```ts
   * model.loadWeights('text_encoder/model.safetensors');
   * ```
   */
  loadWeights(file: string): void {
    const tensors = loadSafetensorsAsTensors(file);
    try {
      const positionIds = tensors[POSITION_IDS_KEY];
      if (positionIds) {
        const values = positionIds.dataSync();
        const l = this.config.max_position_embeddings;
        if (values.length !== l || values.some((v, i) => v !== i)) {
          throw new FormatError('safetensors', file, `'${POSITION_IDS_KEY}' must hold 0..${l - 1}, got [${positionIds.shape.join(', ')}]`);
        }
        delete tensors[POSITION_IDS_KEY];
        positionIds.dispose();
      }
      this.loadStateDict(tensors, { source: file });
    } finally {
      for (const t of Object.values(tensors)) t.dispose();
    }
  }

  /**
   * Encode token ids.
   *
   * @param inputIds - int32 `[B, L]`, L ≤ max_position_embeddings.
   * @param options.attentionMask - optional `[B, L]` 1 = token, 0 = padding (Stable Diffusion 1.x passes none).
   * @param options.outputHiddenStates - also return every layer's hidden states.
   * @param options.eosTokenId - end-of-text id for pooling (default: config.eos_token_id; legacy configs carry 2,
   *   which selects argmax pooling — pass the tokenizer's id to override).
   *
   * @example
   * ```ts
   * const out = model.forward(tf.tensor2d(inputIds, [2, 77], 'int32'), { attentionMask: tf.tensor2d(mask, [2, 77], 'int32') });
   * ```
   */
  forward(
    inputIds: tf.Tensor2D,
    options: { attentionMask?: tf.Tensor2D; outputHiddenStates?: boolean; eosTokenId?: number } = {},
  ): ClipTextOutput {
    const fn = 'ClipTextModel.forward';
    if (!(inputIds instanceof tf.Tensor) || inputIds.rank !== 2 || inputIds.dtype !== 'int32') {
      throw new ValidationError(fn, 'inputIds', 'an int32 tensor [B, L]', inputIds);
    }
    const [b, l] = inputIds.shape;
    if (l < 1 || l > this.config.max_position_embeddings) {
      throw new ValidationError(fn, 'inputIds.shape[1]', `a length in [1, ${this.config.max_position_embeddings}]`, l);
    }
    const ids = inputIds.dataSync() as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i]! < 0 || ids[i]! >= this.config.vocab_size) {
        throw new ValidationError(fn, `inputIds[${i}]`, `a token id in [0, ${this.config.vocab_size})`, ids[i]);
      }
    }
    const { attentionMask } = options;
    let padding: Int32Array | Float32Array | Uint8Array | null = null;
    if (attentionMask !== undefined) {
      if (!(attentionMask instanceof tf.Tensor) || attentionMask.rank !== 2 || attentionMask.shape[0] !== b || attentionMask.shape[1] !== l) {
        throw new ValidationError(fn, 'options.attentionMask', `a tensor [${b}, ${l}] of 0/1`, attentionMask);
      }
      padding = attentionMask.dataSync() as Int32Array;
    }

    // Additive mask [B, 1, L, L]: causal (key j > query i) and padded keys get the float32 minimum (added once).
    const minFloat = -3.4028234663852886e38;
    const maskValues = new Float32Array(b * l * l);
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < l; i++) {
        for (let j = 0; j < l; j++) {
          if (j > i || (padding !== null && padding[r * l + j] === 0)) maskValues[(r * l + i) * l + j] = minFloat;
        }
      }
    }
    // Pooling position per row: first end-of-text id, or argmax of the ids (legacy eos id 2).
    const eos = options.eosTokenId ?? this.config.eos_token_id ?? 2;
    const poolIndex = new Int32Array(b);
    for (let r = 0; r < b; r++) {
      let pos = 0;
      if (eos === 2) {
        for (let j = 1; j < l; j++) if (ids[r * l + j]! > ids[r * l + pos]!) pos = j; // first maximum
      } else {
        const found = ids.subarray(r * l, (r + 1) * l).indexOf(eos);
        pos = found < 0 ? 0 : found; // torch argmax of an all-false row is 0
      }
      poolIndex[r] = r * l + pos;
    }

    const tm = this.textModel;
    const outputs = tf.tidy(() => {
      const mask = tf.tensor4d(maskValues, [b, 1, l, l]);
      let h = tm.embeddings.forward(inputIds); // [B, L, H]  step 1
      const hidden: tf.Tensor3D[] = [h];
      for (let i = 0; i < this.config.num_hidden_layers; i++) {
        h = tm.encoder.layers.at(i).forward(h, mask); // step 2
        hidden.push(h);
      }
      const last = tm.finalLayerNorm.forward(h); // [B, L, H]  step 3
      const pooled = tf.gather(tf.reshape(last, [b * l, this.config.hidden_size]), tf.tensor1d(poolIndex, 'int32')); // [B, H]  step 4
      return options.outputHiddenStates ? [last, pooled, ...hidden] : [last, pooled];
    });
    const [lastHiddenState, poolerOutput, ...hiddenStates] = outputs as [tf.Tensor3D, tf.Tensor2D, ...tf.Tensor3D[]];
    return options.outputHiddenStates ? { lastHiddenState, poolerOutput, hiddenStates } : { lastHiddenState, poolerOutput };
  }
}
