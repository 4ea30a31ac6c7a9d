import { describe, expect, it } from 'vitest';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { StreamDecoder } from '../../src/tokenizer/stream.ts';

describe('StreamDecoder', () => {
  const tok = gpt2Tokenizer();

  it('holds back a character split across tokens until it is complete', () => {
    // "a🤗b" is a, [F0 9F], [A4], [97], b: the emoji appears only with its last byte
    const ids = tok.encode('a🤗b');
    expect(ids.length).toBe(5);
    const d = new StreamDecoder(tok);
    expect(ids.map((id) => d.push(id))).toEqual(['a', '', '', '🤗', 'b']);
    expect(d.flush()).toBe('');
  });

  it('streams exactly the decoded text, never a replacement character', () => {
    const text = 'naïve 日本語 👋🌍 🧑‍💻 done\n';
    const d = new StreamDecoder(tok);
    const pieces = tok.encode(text).map((id) => d.push(id));
    pieces.push(d.flush());
    expect(pieces.join('')).toBe(text);
    for (const p of pieces) expect(p).not.toContain('\uFFFD');
  });

  it('flushes an unfinished character as U+FFFD', () => {
    const d = new StreamDecoder(tok);
    expect(d.push(172)).toBe(''); // 0xF0 starts a 4-byte character
    expect(d.flush()).toBe('\uFFFD');
  });
});
