import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from '../../src/tokenizer/byte-level.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';

// GPT-2's published vocab.json (byte-level string -> id), from the shared data folder.
const VOCAB_JSON = new URL('../../../shared/data/gpt2-tokenizer/vocab.json', import.meta.url);

describe('GPT-2 byte-level alphabet', () => {
  it('maps the 256 bytes to 256 distinct printable characters', () => {
    expect(new Set(BYTE_TO_CHAR).size).toBe(256);
    expect(BYTE_TO_CHAR[0x41]).toBe('A'); // printable ASCII stands for itself
    expect(BYTE_TO_CHAR[0x20]).toBe('Ġ'); // space moves to U+0120
    expect(BYTE_TO_CHAR[0x0a]).toBe('Ċ'); // newline to U+010A
  });

  it('round-trips every byte', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(byteLevelToBytes(bytesToByteLevel(all))).toEqual(all);
    expect(() => byteLevelToBytes('€')).toThrow(/byte-level alphabet/);
  });
});

describe('gpt2Tokenizer', () => {
  const tok = gpt2Tokenizer();

  it('has GPT-2 vocabulary size and <|endoftext|> as eos and bos', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eosTokenId).toBe(50256);
    expect(tok.bosTokenId).toBe(50256);
    expect(tok.tokenString(50256)).toBe('<|endoftext|>');
    expect(tok.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
    expect(tok.encode('<|endoftext|><|endoftext|> x')).toEqual([50256, 50256, 2124]);
    expect(tok.decode(tok.encode('one<|endoftext|>two'))).toBe('one<|endoftext|>two');
  });

  it("gives every token the bytes that vocab.json's byte-level string stands for", () => {
    const vocab = JSON.parse(readFileSync(VOCAB_JSON, 'utf8')) as Record<string, number>;
    expect(Object.keys(vocab).length).toBe(tok.vocabSize);
    let checked = 0;
    for (const [text, id] of Object.entries(vocab)) {
      if (id === tok.eosTokenId) continue; // a special token, stored as its literal text
      if (bytesToByteLevel(tok.tokenBytes(id)) !== text) expect.fail(`token ${id}: vocab.json has ${JSON.stringify(text)}`);
      checked++;
    }
    expect(checked).toBe(50256);
  });

  it('encodes known ids', () => {
    expect(tok.encode(' the')).toEqual([262]);
    expect(tok.encode('\n')).toEqual([198]);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode('')).toEqual([]);
  });

  it.each([
    'Hello, world!',
    'naïve café, Straße, façade',
    'Ελληνικά и русский текст',
    '日本語のテキストと中文',
    'emoji: 👋🌍 🧑‍💻 🇫🇷 🤗',
    '  leading spaces,\ttabs\r\nand\n\n\nnewlines  ',
    "it's they'll I'm 1234567 3.14",
  ])('round-trips %j', (text) => {
    const ids = tok.encode(text);
    expect(tok.decode(ids)).toBe(text);
    // the tokens' bytes are exactly the text's UTF-8 bytes, in order
    const bytes = ids.flatMap((id) => [...tok.tokenBytes(id)]);
    expect(bytes).toEqual([...new TextEncoder().encode(text)]);
  });

  it('gives the raw byte of a byte-fallback token, which is not text on its own', () => {
    // id 172 is the single byte 0xF0, the first byte of a 4-byte UTF-8 character (vocab.json: "ð")
    expect([...tok.tokenBytes(172)]).toEqual([0xf0]);
    expect(tok.tokenString(172)).toBe('\uFFFD');
    // 🤗 (F0 9F A4 97) is split as [F0 9F] [A4] [97]: no piece decodes alone, together they do
    const ids = tok.encode('🤗');
    expect(ids.map((id) => [...tok.tokenBytes(id)])).toEqual([[0xf0, 0x9f], [0xa4], [0x97]]);
    expect(ids.map((id) => tok.tokenString(id))).toEqual(['\uFFFD', '\uFFFD', '\uFFFD']);
    expect(tok.decode(ids)).toBe('🤗');
  });

  it('returns a copy from tokenBytes, so callers cannot corrupt the table', () => {
    tok.tokenBytes(262).fill(0);
    expect(tok.decode([262])).toBe(' the');
  });

  it('rejects ids outside the vocabulary in one line', () => {
    expect(() => tok.decode([50257])).toThrow("token id 50257 is not in GPT-2's vocabulary (ids 0..50256)");
    expect(() => tok.tokenBytes(-1)).toThrow(RangeError);
  });
});
