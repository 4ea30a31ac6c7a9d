// Chat templates: how an instruction-tuned model expects a conversation to be written out as text. Each model
// ships its own, as a Jinja template in tokenizer_config.json ("chat_template"), which turns a list of messages
// into text such as
//   <|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n          (Qwen2.5, SmolLM2)
//   <|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|>...     (Llama 3)
//   <|user|>\nHello<|end|>\n<|assistant|>\n                             (Phi-3)
// The template is rendered with @huggingface/jinja, the Jinja subset transformers.js uses for the same purpose.
import { Template } from '@huggingface/jinja';
import { UserError } from '../errors.ts';
import type { Tokenizer } from './tokenizer.ts';

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | (string & {});
  content: string;
}

export class ChatTemplate {
  private template: Template;

  /** `special`: the special tokens the template may name (bos_token, eos_token, ...), as text. */
  constructor(
    readonly source: string,
    private special: Record<string, string>,
    where = 'the chat template',
  ) {
    try {
      this.template = new Template(source);
    } catch (e) {
      throw new UserError(`${where}: the chat template is not valid Jinja (${(e as Error).message}); drop --chat or fix tokenizer_config.json`);
    }
  }

  /**
   * The conversation as text. `addGenerationPrompt` (default true) ends it with the header of an assistant turn,
   * so the model's continuation is the reply.
   */
  render(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    try {
      // as transformers' apply_chat_template: no tools and no documents are None (templates test `tools is not none`)
      const context = { ...this.special, messages, tools: null, documents: null, add_generation_prompt: options.addGenerationPrompt ?? true };
      return this.template.render(context);
    } catch (e) {
      throw new UserError(`the model's chat template failed on this conversation: ${(e as Error).message}`);
    }
  }
}

/**
 * The template inside a tokenizer_config.json (or chat_template.json): a string, or a list of named templates of
 * which "default" is the one for plain chat.
 */
export function chatTemplateSource(config: Record<string, unknown>): string | undefined {
  const value = config.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = value as { name?: unknown; template?: unknown }[];
    const chosen = named.find((t) => t.name === 'default') ?? named[0];
    if (typeof chosen?.template === 'string') return chosen.template;
  }
  return undefined;
}

/** tokenizer_config.json's special tokens (`bos_token`: "<s>", or an AddedToken object with `content`), as text. */
export function specialTokenStrings(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (!key.endsWith('_token')) continue;
    const text = typeof value === 'string' ? value : (value as { content?: unknown } | null)?.content;
    if (typeof text === 'string') out[key] = text;
  }
  return out;
}

/** What a tokenizer needs to hold a chat: its template, and the ids that end a reply. */
export interface ChatTokenizer extends Tokenizer {
  encodeChat(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): number[];
  readonly chatTemplate?: ChatTemplate;
  readonly stopTokenIds: number[];
}

function isChatTokenizer(t: Tokenizer): t is ChatTokenizer {
  return typeof (t as Partial<ChatTokenizer>).encodeChat === 'function' && (t as Partial<ChatTokenizer>).chatTemplate !== undefined;
}

/**
 * `text` as one user turn through the model's chat template (after an optional system turn): the ids to generate
 * from, and the text of every end-of-reply token other than eos, to stop on (Llama 3 ends a turn with
 * <|eot_id|>, Phi-3 with <|end|>, while their eos token is another).
 */
export function chatPrompt(tokenizer: Tokenizer, text: string, system?: string): { ids: number[]; stop: string[] } {
  if (!isChatTokenizer(tokenizer)) {
    throw new UserError('this model has no chat template (tokenizer_config.json has no chat_template): drop --chat and give a plain prompt');
  }
  const messages: ChatMessage[] = system === undefined ? [] : [{ role: 'system', content: system }];
  messages.push({ role: 'user', content: text });
  const stop = tokenizer.stopTokenIds.filter((id) => id !== tokenizer.eosTokenId).map((id) => tokenizer.tokenString(id));
  return { ids: tokenizer.encodeChat(messages), stop };
}
