// Hugging Face tokenizer.json files through HfTokenizer: GPT-2's real one (byte-level BPE) against the built-in
// GPT-2 tokenizer, a small SentencePiece-style one (Llama 2's layout: "▁" for spaces, byte fallback, a BOS added by
// the post-processor), chat templates, and the folder loader's errors.
import { copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nodeModelFiles } from '../../src/loading/files.ts';
import { chatPrompt, ChatTemplate } from '../../src/tokenizer/chat.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { HfTokenizer, loadHfTokenizer } from '../../src/tokenizer/hf.ts';
import { StreamDecoder } from '../../src/tokenizer/stream.ts';

const GPT2_DIR = '/work/shared/data/gpt2-tokenizer';
const readJson = (file: string) => JSON.parse(readFileSync(join(GPT2_DIR, file), 'utf8')) as Record<string, unknown>;

/** ChatML, the template of Qwen2.5 and SmolLM2 (without their default system prompt). */
const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** A GPT-2 tokenizer folder with ChatML's two special tokens added, as Qwen2 and SmolLM2 declare theirs. */
async function chatFolder(extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'wgpt-tokenizer-'));
  const tokenizer = readJson('tokenizer.json');
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  tokenizer.added_tokens = [...(tokenizer.added_tokens as object[]), special(50257, '<|im_start|>'), special(50258, '<|im_end|>')];
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...readJson('tokenizer_config.json'), eos_token: '<|im_end|>', chat_template: CHATML }));
  for (const [file, text] of Object.entries(extra)) await writeFile(join(dir, file), text);
  return dir;
}

describe("GPT-2's tokenizer.json through HfTokenizer", () => {
  const hf = new HfTokenizer({ tokenizer: readJson('tokenizer.json'), config: readJson('tokenizer_config.json') });
  const gpt2 = gpt2Tokenizer();

  it.each([
    'Hello, world!',
    'ROMEO:\nBut, soft! what light through yonder window breaks?',
    '  leading spaces, trailing  \n\n\ttabs',
    "naïve café, 東京, I'm, you'll, 1234567",
    'emoji 🎉👩‍👩‍👧 and <|endoftext|> in the middle',
  ])('encodes %j as the built-in GPT-2 tokenizer does, and decodes it back', (text) => {
    const ids = hf.encode(text);
    expect(ids).toEqual(gpt2.encode(text));
    expect(hf.decode(ids)).toBe(text);
  });

  it('gives every token the same bytes, and the same vocabulary, eos and bos', () => {
    expect(hf.vocabSize).toBe(gpt2.vocabSize);
    expect(hf.eosTokenId).toBe(50256);
    expect(hf.bosTokenId).toBe(50256);
    for (let id = 0; id < gpt2.vocabSize; id++) {
      if (!Buffer.from(hf.tokenBytes(id)).equals(Buffer.from(gpt2.tokenBytes(id)))) throw new Error(`token ${id}: bytes differ`);
    }
    expect(hf.tokenString(50256)).toBe('<|endoftext|>');
  });

  it('streams an emoji split across tokens without half characters', () => {
    const ids = hf.encode(' 🎉🎉');
    const stream = new StreamDecoder(hf);
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces.join('') + stream.flush()).toBe(' 🎉🎉');
    expect(pieces.some((p) => p.includes('\uFFFD'))).toBe(false);
  });
});

/** A small Llama 2-style tokenizer.json: SentencePiece BPE with byte fallback, "▁" for spaces, BOS prepended. */
function sentencePieceJson(): Record<string, unknown> {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  for (const piece of ['▁', 'h', 'i', 'e', 'l', 'o', '▁h', '▁hi', 'll', '▁he', '▁hell', '▁hello']) vocab[piece] = Object.keys(vocab).length;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '▁' }, { type: 'Replace', pattern: { String: ' ' }, content: '▁' }] },
    pre_tokenizer: null,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
    },
    decoder: {
      type: 'Sequence',
      decoders: [{ type: 'Replace', pattern: { String: '▁' }, content: ' ' }, { type: 'ByteFallback' }, { type: 'Fuse' }, { type: 'Strip', content: ' ', start: 1, stop: 0 }],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: '<unk>',
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      vocab,
      merges: ['▁ h', '▁h i', 'l l', '▁h e', '▁he ll', '▁hell o'],
    },
  };
}

describe('a SentencePiece-style tokenizer.json (Llama 2, TinyLlama, Mistral, Phi-3)', () => {
  const sp = new HfTokenizer({ tokenizer: sentencePieceJson(), config: { bos_token: '<s>', eos_token: { content: '</s>' }, unk_token: '<unk>' } });
  const id = (piece: string) => sp.encode(piece, { addSpecialTokens: false });

  it('adds BOS as its post-processor says, turns spaces into ▁, and falls back to bytes', () => {
    const ids = sp.encode('hi hello 🙂\n');
    expect(ids[0]).toBe(1); // <s>
    expect(ids.slice(1).map((i) => sp.tokenString(i))).toEqual([' hi', ' hello', ' ', '\uFFFD', '\uFFFD', '\uFFFD', '\uFFFD', '\n']);
    expect([...sp.tokenBytes(ids[4]!)]).toEqual([0xf0]); // <0xF0>: the first byte of 🙂
    expect(sp.encode('hi', { addSpecialTokens: false })).toEqual(id('hi'));
    expect(sp.eosTokenId).toBe(2);
    expect(sp.bosTokenId).toBe(1);
  });

  it('decodes to the exact bytes of the tokens: the stream and decode() agree, the first word keeps its space', () => {
    const ids = sp.encode('hello hi 🙂', { addSpecialTokens: false });
    expect(sp.decode(ids)).toBe(' hello hi 🙂');
    const stream = new StreamDecoder(sp);
    expect(ids.map((i) => stream.push(i)).join('') + stream.flush()).toBe(sp.decode(ids));
  });
});

describe('chat templates', () => {
  it('renders ChatML and encodes it without adding special tokens around it', async () => {
    const tokenizer = await loadHfTokenizer(nodeModelFiles(await chatFolder()));
    const text = tokenizer.chatTemplate!.render([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Hi!' },
    ]);
    expect(text).toBe('<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n');
    const { ids, stop } = chatPrompt(tokenizer, 'Hi!');
    expect(ids).toEqual(tokenizer.encode('<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n'));
    expect(ids[0]).toBe(50257); // <|im_start|> is one token
    expect(tokenizer.eosTokenId).toBe(50258);
    expect(stop).toEqual([]); // the eos token ends the reply by itself
  });

  it("stops on generation_config.json's other end tokens, and reads chat_template.jinja", async () => {
    const dir = await chatFolder({
      'generation_config.json': JSON.stringify({ eos_token_id: [50258, 50256] }),
      'tokenizer_config.json': JSON.stringify({ eos_token: '<|im_end|>', bos_token: '<|endoftext|>' }),
      'chat_template.jinja': '{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}[assistant] {% endif %}',
    });
    const tokenizer = await loadHfTokenizer(nodeModelFiles(dir));
    const { ids, stop } = chatPrompt(tokenizer, 'Hi', 'Be brief.');
    expect(tokenizer.decode(ids)).toBe('<|endoftext|>[system] Be brief.\n[user] Hi\n[assistant] ');
    expect(stop).toEqual(['<|endoftext|>']);
  });

  it('renders as transformers does: tools and documents are None, strftime_now and raise_exception exist', () => {
    // the opening of Llama 3.2's template
    const llama32 = new ChatTemplate(
      '{{- bos_token }}{%- if not tools is defined %}{%- set tools = none %}{%- endif %}{%- if not date_string is defined %}' +
        '{%- set date_string = strftime_now("%d %b %Y") %}{%- endif %}{%- if tools is not none %}TOOLS{%- endif %}' +
        '{%- if documents %}DOCUMENTS{%- endif %}[{{ date_string }}]{{ messages[0].content }}',
      { bos_token: '<|begin_of_text|>' },
    );
    expect(llama32.render([{ role: 'user', content: 'Hi' }])).toMatch(/^<\|begin_of_text\|>\[\d\d \w{3} \d{4}\]Hi$/);
  });

  it('refuses --chat for a tokenizer without a template, and says what is wrong with a broken one', () => {
    expect(() => chatPrompt(gpt2Tokenizer(), 'Hi')).toThrow(/no chat template.*drop --chat/);
    expect(() => new ChatTemplate('{% for m in messages %}', {})).toThrow(/not valid Jinja/);
    const failing = new ChatTemplate("{{ raise_exception('Conversation roles must alternate') }}", {});
    expect(() => failing.render([{ role: 'user', content: 'x' }])).toThrow(/chat template failed.*roles must alternate/);
  });
});

describe('loadHfTokenizer', () => {
  it('a model folder without tokenizer.json gets a one-line error that says what to do', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wgpt-no-tokenizer-'));
    await expect(loadHfTokenizer(nodeModelFiles(dir))).rejects.toMatchObject({ name: 'UserError', message: expect.stringMatching(/has no tokenizer\.json: download it with the model/) });
  });

  it('reads a folder with only tokenizer.json (no tokenizer_config.json)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wgpt-bare-tokenizer-'));
    await copyFile(join(GPT2_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    const tokenizer = await loadHfTokenizer(nodeModelFiles(dir));
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    expect(tokenizer.chatTemplate).toBeUndefined();
  });
});
