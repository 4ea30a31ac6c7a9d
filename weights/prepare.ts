// Tokenizes the training corpus and the golden-fixture prompts with the GPT-2 BPE, exactly as wgpt does
// (the `gpt-tokenizer` package, GPT-2's r50k_base ranks), so that the ids the model is trained on and the ids
// wgpt feeds it at run time agree by construction. Run once before `train.py` and `golden.py`:
//
//   npx tsx weights/prepare.ts [path/to/tinyshakespeare.txt]
//
// Writes (all under weights/data/, which git ignores):
//   train.bin, val.bin  token ids as little-endian uint16 (every GPT-2 id is < 65536)
//   prompts.json        the fixture prompts: name, text, ids
//   meta.json           where the split falls and how many tokens each side has
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode } from 'gpt-tokenizer/encoding/r50k_base';

const here = dirname(fileURLToPath(import.meta.url));
const corpusPath = process.argv[2] ?? join(here, '../../shared/data/tinyshakespeare.txt');
const outDir = join(here, 'data');

const N_POSITIONS = 256; // the model's context; keep in step with train.py
const GREEDY_STEPS = 32; // tokens the fixtures generate after each prompt
const TRAIN_FRACTION = 0.9;

// The split is by characters; the corpus is pure ASCII, so it is by bytes too. Each side is encoded on its
// own (as nanoGPT's prepare.py does), so no token straddles the boundary.
const text = readFileSync(corpusPath, 'utf8');
if (Buffer.byteLength(text) !== text.length) throw new Error(`${corpusPath} is not ASCII; the split below assumes it is`);
const splitAt = Math.floor(text.length * TRAIN_FRACTION);
const trainText = text.slice(0, splitAt);
const valText = text.slice(splitAt);
const trainIds = encode(trainText);
const valIds = encode(valText);

function writeU16(path: string, ids: number[]): void {
  const out = new Uint16Array(ids.length);
  for (let i = 0; i < ids.length; i++) {
    if (ids[i] > 0xffff) throw new Error(`token id ${ids[i]} does not fit in uint16`);
    out[i] = ids[i];
  }
  writeFileSync(path, out); // Node writes typed arrays in host order: little-endian on every supported CPU
}

/** The first `maxTokens` tokens of `passage` as text whose encoding is exactly those tokens. */
function leadingTokens(passage: string, maxTokens: number): string {
  const ids = encode(passage);
  // Cutting BPE output mid-word can re-encode differently, so back off until the text round-trips.
  for (let n = Math.min(maxTokens, ids.length); n > 0; n--) {
    const cut = decode(ids.slice(0, n));
    const again = encode(cut);
    if (again.length === n && again.every((id, i) => id === ids[i])) return cut;
  }
  throw new Error('no prefix of the passage round-trips through the tokenizer');
}

// Passages from the validation text (unseen in training), each starting at a speaker's line.
const valSpeech = (speaker: string): string => {
  const at = valText.indexOf(`\n\n${speaker}`);
  if (at < 0) throw new Error(`no speech by ${speaker} in the validation text`);
  return valText.slice(at + 2);
};

// Varied on purpose: one token, a speaker tag, common and rare punctuation, non-ASCII (multi-byte UTF-8 that
// GPT-2 splits into byte tokens), a long passage, and one that fills the context up to n_positions - 32.
const prompts: { name: string; text: string }[] = [
  { name: 'one-token', text: 'The' },
  { name: 'romeo', text: 'ROMEO:' },
  { name: 'citizen-newline', text: 'First Citizen:\n' },
  { name: 'hamlet-punctuation', text: 'To be, or not to be: that is the question.' },
  { name: 'juliet-speech', text: 'JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n' },
  {
    name: 'punctuation-digits-spaces',
    text: "KING HENRY VI:\n  What?! 1, 2, 3... -- 'Tis (aside) [Exeunt]; \"so\"\t& 42%\n\n",
  },
  { name: 'non-ascii', text: 'Café — naïve “quotes”, Æsop’s façade, 東京, emoji 🎭!' },
  { name: 'long-val-passage', text: leadingTokens(valSpeech('PROSPERO:'), 120) },
  { name: 'near-n-positions', text: leadingTokens(valSpeech('PETRUCHIO:'), N_POSITIONS - GREEDY_STEPS) },
];

mkdirSync(outDir, { recursive: true });
writeU16(join(outDir, 'train.bin'), trainIds);
writeU16(join(outDir, 'val.bin'), valIds);
const promptRecords = prompts.map((p) => ({ ...p, ids: encode(p.text) }));
for (const p of promptRecords) {
  if (p.ids.length + GREEDY_STEPS > N_POSITIONS) throw new Error(`prompt ${p.name} leaves no room for ${GREEDY_STEPS} tokens`);
}
writeFileSync(join(outDir, 'prompts.json'), JSON.stringify({ n_positions: N_POSITIONS, greedy_steps: GREEDY_STEPS, prompts: promptRecords }, null, 1) + '\n');
const meta = {
  corpus: corpusPath,
  corpus_chars: text.length,
  split: 'by characters (the corpus is ASCII, so also by bytes): train = text[:split_at], val = text[split_at:]',
  split_at: splitAt,
  train_tokens: trainIds.length,
  val_tokens: valIds.length,
  tokenizer: 'gpt-tokenizer/encoding/r50k_base (GPT-2 BPE)',
};
writeFileSync(join(outDir, 'meta.json'), JSON.stringify(meta, null, 1) + '\n');
console.log(JSON.stringify(meta, null, 1));
for (const p of promptRecords) console.log(`${p.name.padEnd(26)} ${String(p.ids.length).padStart(4)} tokens`);
