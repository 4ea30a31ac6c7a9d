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
