// GPT-2's tokenizer (OpenAI's "r50k_base" encoding): byte-level BPE with 50,257 ids.
//
// Encoding (splitting text with GPT-2's regex, then applying the BPE merges) comes from the `gpt-tokenizer`
// package, which runs in Node and in the browser alike. Its rank table lists, for each id, the token as a
// string or, when the token is not valid UTF-8 on its own (a piece of a multi-byte character), as its bytes;
// decoding here goes through those bytes, so ids -> bytes -> text is exact. Id 50256 is <|endoftext|>, which
// GPT-2 uses both to start and to end a text.
import r50kRanks from 'gpt-tokenizer/bpeRanks/r50k_base';
import { encode as r50kEncode } from 'gpt-tokenizer/encoding/r50k_base';
import { ByteTokenizer, type Tokenizer } from './tokenizer.ts';

const END_OF_TEXT = '<|endoftext|>';
const END_OF_TEXT_ID = 50256;
const VOCAB_SIZE = 50257;

let shared: Tokenizer | undefined;

/** GPT-2's tokenizer (shared: its tables are built once, on first use). */
export function gpt2Tokenizer(): Tokenizer {
  shared ??= new Gpt2Tokenizer();
  return shared;
}

class Gpt2Tokenizer extends ByteTokenizer {
  readonly vocabSize = VOCAB_SIZE;
  readonly eosTokenId = END_OF_TEXT_ID;
  readonly bosTokenId = END_OF_TEXT_ID;
  /** bytes[id]: the raw bytes of each token. */
  private bytes: Uint8Array[];

  constructor() {
    super();
    const utf8 = new TextEncoder();
    this.bytes = new Array<Uint8Array>(VOCAB_SIZE);
    for (let id = 0; id < r50kRanks.length; id++) {
      const entry = r50kRanks[id]!;
      this.bytes[id] = typeof entry === 'string' ? utf8.encode(entry) : Uint8Array.from(entry);
    }
    this.bytes[END_OF_TEXT_ID] = utf8.encode(END_OF_TEXT);
  }

  /**
   * The ids of `text`. The literal text "<|endoftext|>" becomes id 50256, as in Hugging Face's GPT-2
   * tokenizer, so a prompt can mark a document boundary. Like Hugging Face, we split on it first and encode
   * the pieces between (gpt-tokenizer's own `allowedSpecial` finds it only at the start of the text).
   */
  encode(text: string): number[] {
    const ids: number[] = [];
    text.split(END_OF_TEXT).forEach((piece, i) => {
      if (i > 0) ids.push(END_OF_TEXT_ID);
      if (piece.length > 0) ids.push(...r50kEncode(piece));
    });
    return ids;
  }

  protected bytesOf(id: number): Uint8Array {
    const bytes = Number.isInteger(id) ? this.bytes[id] : undefined;
    if (bytes === undefined) throw new RangeError(`token id ${id} is not in GPT-2's vocabulary (ids 0..${VOCAB_SIZE - 1})`);
    return bytes;
  }
}
