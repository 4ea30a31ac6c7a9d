// GPT-2's byte-level alphabet: how a token's raw bytes are written as the printable strings of vocab.json.
//
// GPT-2's BPE works on bytes, not characters, so every UTF-8 text (and every byte sequence) can be encoded
// with no unknown token. To store byte sequences as JSON strings, GPT-2 maps each of the 256 byte values
// to a printable Unicode character (its `bytes_to_unicode`): printable Latin-1 bytes stand for themselves,
// the other 68 (control characters, space, ...) are moved to U+0100 and up, in byte order. That is why a
// leading space shows as "Ġ" (byte 0x20 -> U+0120) and a newline as "Ċ" (0x0A -> U+010A): " the" is "Ġthe".

/** BYTE_TO_CHAR[b] is the character that stands for byte b in vocab.json / merges.txt. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

function buildByteToChar(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 0x100;
  for (let b = 0; b < 256; b++) table[b] = String.fromCodePoint(printable(b) ? b : next++);
  return table;
}

/** Raw bytes -> GPT-2's printable form, e.g. the bytes of " the" -> "Ġthe". */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += BYTE_TO_CHAR[b];
  return s;
}

/** GPT-2's printable form -> raw bytes, e.g. "Ġthe" -> the bytes of " the". Throws on a character outside it. */
export function byteLevelToBytes(s: string): Uint8Array {
  const chars = [...s];
  const out = new Uint8Array(chars.length);
  chars.forEach((c, i) => {
    const b = CHAR_TO_BYTE.get(c);
    if (b === undefined) throw new Error(`"${c}" (U+${c.codePointAt(0)!.toString(16)}) is not in GPT-2's byte-level alphabet`);
    out[i] = b;
  });
  return out;
}
