/**
 * CLIP's byte-level BPE tokenizer, reading a Hugging Face CLIP tokenizer folder (`vocab.json` + `merges.txt`, plus
 * the optional `tokenizer_config.json` / `special_tokens_map.json`), and reproducing `transformers.CLIPTokenizer`
 * on its no-ftfy path token for token:
 *
 * 1. Special-token strings in the text (`<|startoftext|>`, `<|endoftext|>`) are split out and kept as tokens.
 * 2. Cleanup of each remaining piece (BERT's BasicTokenizer with `strip_accents=False`, no punctuation split): drop
 *    NUL, U+FFFD and control/format characters, turn whitespace into spaces, pad CJK ideographs with spaces,
 *    NFC-normalise, split on whitespace, lower-case each word (accents kept), join with single spaces.
 * 3. Pre-tokenise with CLIP's regex (case-insensitive): the special tokens, the contractions `'s 't 're 've 'm 'll 'd`,
 *    runs of letters, single digits, runs of other non-space characters.
 * 4. Each piece is UTF-8 encoded, each byte mapped to a printable character (`bytes_to_unicode`), and the last symbol
 *    gets `</w>`; BPE then merges the adjacent pair with the lowest rank (line order of `merges.txt`) until none is
 *    left.
 * 5. ids = `[bos] + pieces + [eos]`, truncated to 77 (pieces cut to 75), padded to 77 with the pad token
 *    (`<|endoftext|>` for SD 1.x; read from the folder's config).
 *
 * (When ftfy is installed, CLIPTokenizer uses ftfy.fix_text + whitespace collapsing instead of step 2; the two agree
 * except on CJK, control/format characters and text ftfy repairs — see the CLIP fixture README.)
 *
 * @example
 * ```ts
 * import { ClipTokenizer } from '@consistent-avatar/emotion';
 * const tok = ClipTokenizer.fromFolder('checkpoints/sd15/tokenizer');
 * tok.tokenize('A Photo of a SAD Face.'); // ['a</w>', 'photo</w>', 'of</w>', 'a</w>', 'sad</w>', 'face</w>', '.</w>']
 * const { inputIds, attentionMask } = tok.encodeBatch(['a photo of a happy face']); // Int32Array [1 * 77] each
 * ```
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError, ValidationError } from '@consistent-avatar/core';

/** CLIP's `bytes_to_unicode`: printable Latin-1 bytes map to themselves, the other 68 to U+0100…U+0143. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const table = new Array<string>(256);
  bs.forEach((b, i) => (table[b] = String.fromCharCode(cs[i]!)));
  return table;
}

const BYTE_ENCODER = bytesToUnicode();
const BYTE_DECODER = new Map(BYTE_ENCODER.map((ch, b) => [ch, b] as const));

/** CLIP's pre-tokeniser regex (`tokenization_clip.py`), case-insensitive, Unicode classes. */
const PRE_TOKENIZER =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+/giu;

/** The CJK ideograph blocks BERT's BasicTokenizer pads with spaces. */
function isCjk(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) ||
    (cp >= 0x2b740 && cp <= 0x2b81f) ||
    (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/**
 * Text cleanup of CLIPTokenizer without ftfy (BERT BasicTokenizer, `strip_accents=False`, no punctuation split):
 * returns the cleaned words joined by single spaces.
 *
 * @example
 * ```ts
 * basicClean('  A\tPhoto\u0000 of\n\nCAFÉ '); // 'a photo of café'
 * ```
 */
export function basicClean(text: string): string {
  let cleaned = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd) continue;
    const isWhitespace = ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || /\p{Zs}/u.test(ch);
    if (isWhitespace) {
      cleaned += ' ';
      continue;
    }
    if (/\p{C}/u.test(ch)) continue; // control, format, unassigned, private use, surrogates
    cleaned += isCjk(cp) ? ` ${ch} ` : ch;
  }
  const words = cleaned.normalize('NFC').trim().split(/\s+/).filter((w) => w.length > 0);
  return words.map((w) => w.toLowerCase()).join(' ');
}

/**
 * Output of {@link ClipTokenizer.encodeBatch}: ids and mask `[B, maxLength]`, row-major.
 *
 * @example
 * ```ts
 * const { inputIds, attentionMask, batch, length } = tok.encodeBatch(['a', 'b']); // batch 2, length 77
 * ```
 */
export interface ClipEncoding {
  inputIds: Int32Array;
  attentionMask: Int32Array;
  batch: number;
  length: number;
}

/**
 * A CLIP byte-level BPE tokenizer (see the module description). Plain data: nothing to dispose.
 *
 * @example
 * ```ts
 * const tok = ClipTokenizer.fromFolder('sd/tokenizer');
 * tok.encode('a photo of a sad face'); // [bos, …, eos]
 * ```
 */
export class ClipTokenizer {
  /** Context length (77 for CLIP). */
  readonly maxLength: number;
  readonly bosTokenId: number;
  readonly eosTokenId: number;
  readonly padTokenId: number;
  readonly unkTokenId: number;
  private readonly vocab: Map<string, number>;
  private readonly idToToken: Map<number, string>;
  private readonly ranks: Map<string, number>;
  private readonly cache = new Map<string, string[]>();
  private readonly specialTokens: string[];

  /**
   * @param vocab - token → id (`vocab.json`).
   * @param merges - merge pairs in rank order (`merges.txt` without its `#version` header).
   *
   * @example
   * ```ts
   * const tok = new ClipTokenizer(vocabObject, [['i', 'n'], ['a', 'c']]);
   * ```
   */
  constructor(
    vocab: Record<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    options: { maxLength?: number; bosToken?: string; eosToken?: string; padToken?: string; unkToken?: string } = {},
  ) {
    const fn = 'ClipTokenizer';
    if (vocab === null || typeof vocab !== 'object') throw new ValidationError(fn, 'vocab', 'an object token → id', vocab);
    this.vocab = new Map();
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isInteger(id) || id < 0) throw new ValidationError(fn, `vocab[${JSON.stringify(token)}]`, 'an integer id ≥ 0', id);
      this.vocab.set(token, id);
    }
    this.idToToken = new Map([...this.vocab].map(([t, i]) => [i, t] as const));
    if (!Array.isArray(merges)) throw new ValidationError(fn, 'merges', 'an array of [left, right] pairs', merges);
    this.ranks = new Map();
    merges.forEach(([a, b], i) => {
      const key = `${a} ${b}`;
      if (!this.ranks.has(key)) this.ranks.set(key, i);
    });
    this.maxLength = options.maxLength ?? 77;
    if (!Number.isInteger(this.maxLength) || this.maxLength < 2) {
      throw new ValidationError(fn, 'options.maxLength', 'an integer ≥ 2', this.maxLength);
    }
    const id = (token: string, what: string): number => {
      const v = this.vocab.get(token);
      if (v === undefined) throw new ValidationError(fn, what, `a token of the vocabulary`, token);
      return v;
    };
    const bos = options.bosToken ?? '<|startoftext|>';
    const eos = options.eosToken ?? '<|endoftext|>';
    this.bosTokenId = id(bos, 'options.bosToken');
    this.eosTokenId = id(eos, 'options.eosToken');
    this.padTokenId = id(options.padToken ?? eos, 'options.padToken');
    this.unkTokenId = id(options.unkToken ?? eos, 'options.unkToken');
    this.specialTokens = [...new Set([bos, eos, options.padToken ?? eos, options.unkToken ?? eos])];
    for (const s of this.specialTokens) this.cache.set(s, [s]);
  }

  /**
   * Read a Hugging Face CLIP tokenizer folder: `vocab.json`, `merges.txt` (first line `#version…` skipped, at most
   * 49152 − 256 − 2 merges as CLIPTokenizer reads), and when present `tokenizer_config.json` /
   * `special_tokens_map.json` for `model_max_length` and the special tokens.
   *
   * @example
   * ```ts
   * const tok = ClipTokenizer.fromFolder('sd-v1-5/tokenizer');
   * ```
   */
  static fromFolder(dir: string): ClipTokenizer {
    if (typeof dir !== 'string' || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new ValidationError('ClipTokenizer.fromFolder', 'dir', 'a tokenizer folder with vocab.json and merges.txt', dir);
    }
    const readJson = (file: string, required: boolean): Record<string, unknown> | null => {
      const p = path.join(dir, file);
      if (!fs.existsSync(p)) {
        if (required) throw new FormatError('json', p, 'missing (a CLIP tokenizer folder needs vocab.json and merges.txt)');
        return null;
      }
      try {
        const v = JSON.parse(fs.readFileSync(p, 'utf8')) as unknown;
        if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
        return v as Record<string, unknown>;
      } catch (error) {
        throw new FormatError('json', p, `not a valid JSON object (${(error as Error).message})`);
      }
    };
    const vocab = readJson('vocab.json', true)!;
    for (const [t, i] of Object.entries(vocab)) {
      if (!Number.isInteger(i)) throw new FormatError('json', path.join(dir, 'vocab.json'), `id of ${JSON.stringify(t)} is not an integer`);
    }
    const mergesPath = path.join(dir, 'merges.txt');
    if (!fs.existsSync(mergesPath)) throw new FormatError('merges', mergesPath, 'missing');
    const lines = fs.readFileSync(mergesPath, 'utf8').split('\n');
    // CLIPTokenizer: merges[1 : 49152 - 256 - 2 + 1] (line 0 is the '#version' header).
    const merges = lines.slice(1, 49152 - 256 - 2 + 1).filter((l) => l.length > 0).map((l, i) => {
      const parts = l.split(' ');
      if (parts.length !== 2) throw new FormatError('merges', mergesPath, `line ${i + 2} is not 'left right': ${JSON.stringify(l)}`);
      return [parts[0]!, parts[1]!] as const;
    });
    const config = readJson('tokenizer_config.json', false) ?? {};
    const special = readJson('special_tokens_map.json', false) ?? {};
    const tokenOf = (key: string): string | undefined => {
      const v = (special[key] ?? config[key]) as unknown;
      if (typeof v === 'string') return v;
      if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
      return undefined;
    };
    const maxLength = config.model_max_length;
    return new ClipTokenizer(vocab as Record<string, number>, merges, {
      maxLength: Number.isInteger(maxLength) && (maxLength as number) < 1e6 ? (maxLength as number) : 77,
      bosToken: tokenOf('bos_token'),
      eosToken: tokenOf('eos_token'),
      padToken: tokenOf('pad_token'),
      unkToken: tokenOf('unk_token'),
    });
  }

  /** BPE of one pre-tokenised piece (already byte-mapped). */
  private bpe(token: string): string[] {
    const cached = this.cache.get(token);
    if (cached) return cached;
    const chars = [...token];
    let word = [...chars.slice(0, -1), chars[chars.length - 1]! + '</w>'];
    while (word.length > 1) {
      // The adjacent pair with the lowest merge rank.
      let best: [string, string] | null = null;
      let bestRank = Infinity;
      for (let i = 0; i < word.length - 1; i++) {
        const r = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = [word[i]!, word[i + 1]!];
        }
      }
      if (!best) break;
      // Merge every occurrence left to right in one pass.
      const [first, second] = best;
      const merged: string[] = [];
      for (let i = 0; i < word.length; ) {
        if (word[i] === first && i < word.length - 1 && word[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(word[i]!);
          i += 1;
        }
      }
      word = merged;
    }
    this.cache.set(token, word);
    return word;
  }

  /**
   * BPE pieces of a text (no start/end tokens), `</w>` marking word ends.
   *
   * @example
   * ```ts
   * tok.tokenize("it's a fearful face"); // ['it</w>', "'s</w>", 'a</w>', 'fearful</w>', 'face</w>'] (with a CLIP vocab)
   * ```
   */
  tokenize(text: string): string[] {
    if (typeof text !== 'string') throw new ValidationError('ClipTokenizer.tokenize', 'text', 'a string', text);
    const out: string[] = [];
    // 1. Split out special-token strings written in the text.
    const escaped = this.specialTokens.map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    const pieces = text.split(new RegExp(`(${escaped.join('|')})`));
    for (const piece of pieces) {
      if (piece.length === 0) continue;
      if (this.specialTokens.includes(piece)) {
        out.push(piece);
        continue;
      }
      // 2. Cleanup, 3. regex pre-tokenisation, 4. byte mapping + BPE.
      for (const m of basicClean(piece).matchAll(PRE_TOKENIZER)) {
        const bytes = new TextEncoder().encode(m[0]);
        let mapped = '';
        for (const b of bytes) mapped += BYTE_ENCODER[b]!;
        out.push(...this.bpe(mapped));
      }
    }
    return out;
  }

  /**
   * Token ids of one text: `[bos] + ids + [eos]`, truncated to {@link maxLength} (pieces cut to maxLength − 2),
   * not padded.
   *
   * @example
   * ```ts
   * tok.encode('a photo of a happy face'); // [49406, …, 49407] with the real CLIP vocab (start … end)
   * ```
   */
  encode(text: string, options: { truncation?: boolean } = {}): number[] {
    let ids = this.tokenize(text).map((t) => this.vocab.get(t) ?? this.unkTokenId);
    if (options.truncation ?? true) ids = ids.slice(0, this.maxLength - 2);
    return [this.bosTokenId, ...ids, this.eosTokenId];
  }

  /**
   * Ids and attention masks `[B, maxLength]` for a batch, padded with the pad token (Stable Diffusion's
   * `padding="max_length", truncation=True`).
   *
   * @example
   * ```ts
   * const { inputIds } = tok.encodeBatch(['a photo of a sad face', 'a photo of a happy face']); // Int32Array(154)
   * ```
   */
  encodeBatch(texts: readonly string[]): ClipEncoding {
    if (!Array.isArray(texts) || texts.some((t) => typeof t !== 'string')) {
      throw new ValidationError('ClipTokenizer.encodeBatch', 'texts', 'an array of strings', texts);
    }
    const length = this.maxLength;
    const inputIds = new Int32Array(texts.length * length).fill(this.padTokenId);
    const attentionMask = new Int32Array(texts.length * length);
    texts.forEach((text, b) => {
      const ids = this.encode(text);
      inputIds.set(ids, b * length);
      attentionMask.fill(1, b * length, b * length + ids.length);
    });
    return { inputIds, attentionMask, batch: texts.length, length };
  }

  /**
   * Text of token ids (special tokens skipped): pieces joined, mapped back to bytes, UTF-8 decoded, `</w>` → space.
   *
   * @example
   * ```ts
   * tok.decode(tok.encode('A Photo of a SAD Face.')); // 'a photo of a sad face .'
   * ```
   */
  decode(ids: ArrayLike<number>): string {
    const specialIds = new Set(this.specialTokens.map((t) => this.vocab.get(t)!));
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (specialIds.has(id)) continue;
      const token = this.idToToken.get(id);
      if (token === undefined) throw new ValidationError('ClipTokenizer.decode', `ids[${i}]`, 'an id of the vocabulary', id);
      text += token;
    }
    const bytes: number[] = [];
    // '</w>' consists of printable ASCII bytes, so it survives the byte round trip and is replaced afterwards.
    for (const ch of text) bytes.push(BYTE_DECODER.get(ch) ?? 0x3f);
    return new TextDecoder('utf-8').decode(Uint8Array.from(bytes)).replaceAll('</w>', ' ').trim();
  }
}
