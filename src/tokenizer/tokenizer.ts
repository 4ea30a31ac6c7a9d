// What the runtime needs from a tokenizer: the interface every tokenizer implements.

/**
 * Text <-> token ids. Tokens are byte strings: one token may hold part of a multi-byte UTF-8 character
 * (an emoji is often 2-3 tokens), so `tokenBytes` is exact while `tokenString` may show U+FFFD for a piece.
 */
export interface Tokenizer {
  /** The ids of `text`. */
  encode(text: string): number[];
  /** The text of a sequence of ids (bytes that are not valid UTF-8 become U+FFFD). */
  decode(ids: readonly number[]): string;
  /** The raw bytes of one token. */
  tokenBytes(id: number): Uint8Array;
  /** The text of one token on its own, as `decode([id])` gives it. */
  tokenString(id: number): string;
  /** Number of ids: every id is in [0, vocabSize). */
  readonly vocabSize: number;
  /** The token that ends a text, when the tokenizer has one. */
  readonly eosTokenId?: number;
  /** The token that starts a text, when the tokenizer has one. */
  readonly bosTokenId?: number;
}

/**
 * A tokenizer whose tokens are byte strings: decoding concatenates the tokens' exact bytes and reads them as UTF-8
 * once, so text streamed token by token and text decoded at the end always agree. Subclasses say what bytes a
 * token holds.
 */
export abstract class ByteTokenizer implements Tokenizer {
  abstract encode(text: string): number[];
  abstract readonly vocabSize: number;
  /** The bytes of token `id` (the same array each time: callers must not change it). */
  protected abstract bytesOf(id: number): Uint8Array;

  decode(ids: readonly number[]): string {
    const pieces = ids.map((id) => this.bytesOf(id));
    const all = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pieces) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder('utf-8').decode(all);
  }

  tokenBytes(id: number): Uint8Array {
    return this.bytesOf(id).slice();
  }

  tokenString(id: number): string {
    return new TextDecoder('utf-8').decode(this.bytesOf(id));
  }
}
