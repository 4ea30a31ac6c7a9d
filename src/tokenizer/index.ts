// Tokenizers: the interface the runtime uses, GPT-2's tokenizer, Hugging Face tokenizer.json files with their chat
// templates, and streaming decoding.
export { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from './byte-level.ts';
export { chatPrompt, ChatTemplate, type ChatMessage } from './chat.ts';
export { gpt2Tokenizer } from './gpt2.ts';
export { HfTokenizer, loadHfTokenizer } from './hf.ts';
export { StreamDecoder } from './stream.ts';
export type { Tokenizer } from './tokenizer.ts';
