// Hugging Face tokenizers: a model folder's tokenizer.json (the "fast tokenizer" file every modern model ships),
// run by @huggingface/tokenizers, a pure-JS implementation that works the same in Node and the browser.
//
// Encoding is the library's: normalizer, pre-tokenizer, BPE (or Unigram / WordPiece) model, and the
// post-processor that adds the BOS token where the model expects one (Llama's <s>, Llama 3's <|begin_of_text|>).
// Decoding is ours, token by token, so that streaming is exact: each id maps to its raw bytes, and decode() is the
// UTF-8 text of those bytes put together, as src/tokenizer/stream.ts requires. Tokens are stored two ways:
//   byte-level BPE (GPT-2, Llama 3, Qwen2, SmolLM2): the token is a string of GPT-2's byte alphabet ("Ġthe")
//   SentencePiece BPE (Llama 2, TinyLlama, Mistral, Phi-3): "▁" stands for a space ("▁the"), and a byte with no
//     token of its own is written "<0x0A>" (byte fallback)
// Two things Hugging Face's decode() does are therefore not done: dropping the space SentencePiece put before the
// first word, and clean_up_tokenization_spaces. A continuation keeps the space before its first word.
import { Tokenizer as HfTokenizerModel } from '@huggingface/tokenizers';
import { UserError } from '../errors.ts';
import type { ModelFiles } from '../loading/files.ts';
import { byteLevelToBytes } from './byte-level.ts';
import { ChatTemplate, chatTemplateSource, specialTokenStrings, type ChatMessage } from './chat.ts';
import { ByteTokenizer, type Tokenizer } from './tokenizer.ts';

/** What a tokenizer needs from a model folder: tokenizer.json and what tokenizer_config.json adds to it. */
export interface HfTokenizerFiles {
  /** The parsed tokenizer.json. */
  tokenizer: Record<string, unknown>;
  /** The parsed tokenizer_config.json ({} when the folder has none). */
  config?: Record<string, unknown>;
  /** The chat template, when the model has one (tokenizer_config.json or chat_template.jinja). */
  chatTemplate?: string;
  /** generation_config.json's eos_token_id: the ids that end a reply (Llama 3: end of text and end of turn). */
  endTokenIds?: number[];
  /** For messages: where the files came from. */
  source?: string;
}

type TokenKind = 'byte-level' | 'sentencepiece' | 'other';

export class HfTokenizer extends ByteTokenizer {
  readonly vocabSize: number;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  /** Ids that end a reply: the eos token and generation_config.json's eos_token_id list. */
  readonly stopTokenIds: number[];
  readonly chatTemplate?: ChatTemplate;
  private model: HfTokenizerModel;
  private kind: TokenKind;
  /** The "▁" of SentencePiece tokens (Metaspace's replacement). */
  private space = '\u2581';
  private added = new Map<number, string>();
  private bytesCache = new Map<number, Uint8Array>();

  constructor(files: HfTokenizerFiles) {
    super();
    const source = files.source ?? 'tokenizer.json';
    const config = files.config ?? {};
    try {
      this.model = new HfTokenizerModel(files.tokenizer, config);
    } catch (e) {
      throw new UserError(`${source} could not be read as a Hugging Face tokenizer (${(e as Error).message}): download it again`);
    }
    this.kind = tokenKind(files.tokenizer.decoder);
    for (const t of (files.tokenizer.added_tokens as { id: number; content: string }[] | undefined) ?? []) this.added.set(t.id, t.content);
    let maxId = -1;
    for (const id of this.model.get_vocab(true).values()) maxId = Math.max(maxId, id);
    this.vocabSize = maxId + 1;

    const special = specialTokenStrings(config);
    const id = (token: string | undefined) => (token === undefined ? undefined : this.model.token_to_id(token));
    this.eosTokenId = id(special.eos_token) ?? files.endTokenIds?.[0];
    this.bosTokenId = id(special.bos_token);
    this.stopTokenIds = [...new Set([...(this.eosTokenId !== undefined ? [this.eosTokenId] : []), ...(files.endTokenIds ?? [])])];
    if (files.chatTemplate !== undefined) this.chatTemplate = new ChatTemplate(files.chatTemplate, special, source);
  }

  /** The ids of `text`, with the special tokens the model expects around a text (BOS) unless told not to. */
  encode(text: string, options: { addSpecialTokens?: boolean } = {}): number[] {
    return this.model.encode(text, { add_special_tokens: options.addSpecialTokens ?? true }).ids;
  }

  /** The conversation through the model's chat template, as ids (the template writes any BOS itself). */
  encodeChat(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): number[] {
    if (!this.chatTemplate) throw new UserError('this model has no chat template (tokenizer_config.json has no chat_template): drop --chat and give a plain prompt');
    return this.encode(this.chatTemplate.render(messages, options), { addSpecialTokens: false });
  }

  /**
   * The raw bytes of a token. Models often pad their embedding table past the tokenizer's vocabulary (Qwen2.5 has
   * 151936 rows for 151665 tokens): such an id, never trained to be likely, has no text, and gives no bytes.
   */
  protected bytesOf(id: number): Uint8Array {
    if (!(Number.isInteger(id) && id >= 0)) throw new RangeError(`token id ${id} is not a token id`);
    let bytes = this.bytesCache.get(id);
    if (bytes) return bytes;
    const utf8 = (s: string) => new TextEncoder().encode(s);
    const token = this.model.id_to_token(id);
    const added = this.added.get(id);
    if (added !== undefined) {
      bytes = utf8(added); // added and special tokens are stored as their text
    } else if (token === undefined) {
      bytes = new Uint8Array(0);
    } else if (this.kind === 'byte-level') {
      bytes = byteLevelToBytes(token);
    } else if (this.kind === 'sentencepiece') {
      const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
      bytes = byte ? Uint8Array.of(parseInt(byte[1]!, 16)) : utf8(token.replaceAll(this.space, ' '));
    } else {
      bytes = utf8(this.model.decode([id], { skip_special_tokens: false, clean_up_tokenization_spaces: false }));
    }
    this.bytesCache.set(id, bytes);
    return bytes;
  }
}

/** How the tokenizer.json's decoder says tokens are stored. */
function tokenKind(decoder: unknown): TokenKind {
  const d = decoder as { type?: string; decoders?: unknown[]; pattern?: { String?: string } } | null | undefined;
  if (!d) return 'other';
  if (d.type === 'ByteLevel') return 'byte-level';
  if (d.type === 'Metaspace') return 'sentencepiece';
  if (d.type === 'Sequence') {
    const kinds = (d.decoders ?? []).map((x) => {
      const sub = x as { type?: string; pattern?: { String?: string } };
      if (sub.type === 'Replace' && sub.pattern?.String === '\u2581') return 'sentencepiece';
      return tokenKind(sub);
    });
    return kinds.find((k) => k !== 'other') ?? 'other';
  }
  return 'other';
}

/** The ids generation_config.json lists as eos_token_id (a number or a list). */
function endTokenIds(generationConfig: unknown): number[] {
  const value = (generationConfig as { eos_token_id?: unknown } | null)?.eos_token_id;
  const ids = Array.isArray(value) ? value : [value];
  return ids.filter((id): id is number => typeof id === 'number' && Number.isInteger(id) && id >= 0);
}

/**
 * The tokenizer of a model folder: tokenizer.json, with tokenizer_config.json, the chat template (inside
 * tokenizer_config.json, or chat_template.jinja / chat_template.json beside it) and generation_config.json's end
 * tokens where present.
 */
export async function loadHfTokenizer(files: ModelFiles): Promise<HfTokenizer> {
  if (!(await files.exists('tokenizer.json'))) {
    throw new UserError(`${files.name} has no tokenizer.json: download it with the model (wgpt reads the Hugging Face tokenizer.json of every model but GPT-2)`);
  }
  const json = async (file: string): Promise<Record<string, unknown> | undefined> => {
    if (!(await files.exists(file))) return undefined;
    try {
      return JSON.parse(await files.readText(file)) as Record<string, unknown>;
    } catch (e) {
      throw new UserError(`${files.name}/${file} is not valid JSON (${(e as Error).message}): download it again`);
    }
  };
  const tokenizer = (await json('tokenizer.json'))!;
  const config = (await json('tokenizer_config.json')) ?? {};
  const generation = await json('generation_config.json');
  const jinja = (await files.exists('chat_template.jinja')) ? await files.readText('chat_template.jinja') : undefined;
  const chatTemplate = chatTemplateSource(config) ?? jinja ?? chatTemplateSource((await json('chat_template.json')) ?? {});
  return new HfTokenizer({ tokenizer, config, chatTemplate, endTokenIds: endTokenIds(generation), source: `${files.name}/tokenizer.json` });
}
