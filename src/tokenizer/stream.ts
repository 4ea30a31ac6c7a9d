// Streaming decoding: print tokens as they arrive without ever printing half a character.
import type { Tokenizer } from './tokenizer.ts';

/**
 * Turns ids arriving one at a time into text that is safe to print as it comes: bytes of a character split
 * across tokens are held back until the character is complete, so a terminal never shows half an emoji as
 * "\uFFFD". The concatenation of everything `push` and `flush` return equals `tokenizer.decode(allIds)`.
 */
export class StreamDecoder {
  // TextDecoder in streaming mode keeps an incomplete UTF-8 sequence for the next call
  private decoder = new TextDecoder('utf-8');

  constructor(private tokenizer: Pick<Tokenizer, 'tokenBytes'>) {}

  /** Adds one token; returns the text completed by it (possibly ""). */
  push(id: number): string {
    return this.decoder.decode(this.tokenizer.tokenBytes(id), { stream: true });
  }

  /** Ends the stream: returns what is held back, with U+FFFD for an unfinished character. */
  flush(): string {
    return this.decoder.decode();
  }
}
