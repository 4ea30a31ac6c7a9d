// Tokenizers: the interface the runtime uses, GPT-2's tokenizer, and streaming decoding.
export { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from './byte-level.ts';
export { gpt2Tokenizer } from './gpt2.ts';
export { StreamDecoder } from './stream.ts';
export type { Tokenizer } from './tokenizer.ts';
