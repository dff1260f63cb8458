import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FormatError, ValidationError } from '@consistent-avatar/core';
import { ClipTokenizer, basicClean } from './clip-tokenizer.js';

const fixtureDir = fileURLToPath(new URL('../test/fixtures/clip/', import.meta.url));
interface Case {
  text: string;
  bpe_tokens: string[];
  ids: number[];
  input_ids: number[];
  attention_mask: number[];
  truncated: boolean;
  decoded: string;
}
const fixture = JSON.parse(readFileSync(`${fixtureDir}tokenizer_cases.json`, 'utf8')) as {
  bos_token_id: number;
  eos_token_id: number;
  pad_token_id: number;
  max_length: number;
  cases: Case[];
};

describe('ClipTokenizer parity with transformers CLIPTokenizer (fixture)', () => {
  const tok = ClipTokenizer.fromFolder(`${fixtureDir}tokenizer`);

  it('reads the folder config', () => {
    expect(tok.maxLength).toBe(fixture.max_length);
    expect(tok.bosTokenId).toBe(fixture.bos_token_id);
    expect(tok.eosTokenId).toBe(fixture.eos_token_id);
    expect(tok.padTokenId).toBe(fixture.pad_token_id);
  });

  for (const c of fixture.cases) {
    it(`exact tokens and ids for ${JSON.stringify(c.text.slice(0, 40))}`, () => {
      const pieces = tok.tokenize(c.text);
      expect(c.truncated ? pieces.slice(0, c.bpe_tokens.length) : pieces).toEqual(c.bpe_tokens);
      expect(tok.encode(c.text)).toEqual(c.ids);
      const batch = tok.encodeBatch([c.text]);
      expect([...batch.inputIds]).toEqual(c.input_ids);
      expect([...batch.attentionMask]).toEqual(c.attention_mask);
      expect(tok.decode(c.ids)).toBe(c.decoded);
    });
  }

  it('the fixture covers truncation', () => {
    expect(fixture.cases.some((c) => c.truncated && c.ids.length === 77)).toBe(true);
  });

  it('cleanup follows the no-ftfy path', () => {
    expect(basicClean('  A\tPhoto\u0000 of\n\nCAFÉ ')).toBe('a photo of café');
    expect(basicClean('a\u200bb')).toBe('ab'); // format character deleted
    expect(basicClean('表情')).toBe('表 情'); // CJK ideographs split
  });

  it('malformed folders and inputs give typed errors', () => {
    expect(() => ClipTokenizer.fromFolder('/nonexistent/tokenizer')).toThrow(ValidationError);
    expect(() => ClipTokenizer.fromFolder(fixtureDir)).toThrow(FormatError); // no vocab.json there
    expect(() => tok.tokenize(3 as never)).toThrow(ValidationError);
    expect(() => tok.decode([99999])).toThrow(/ids\[0\]/);
    expect(() => new ClipTokenizer({ a: 0 }, [])).toThrow(/bosToken/);
  });
});
