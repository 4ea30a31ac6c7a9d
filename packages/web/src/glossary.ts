// Every term the page uses, explained once. A term in the page is a link to its entry (a.term, href="#g-key"),
// with the explanation as its tooltip; the glossary at the bottom of the page lists them all.
import { el } from './dom.ts';

export const GLOSSARY: Record<string, [term: string, meaning: string]> = {
  token: ['token', 'A piece of text the model reads as one unit: a word, part of a word, a space or a punctuation mark. Each has an id, its row in the vocabulary.'],
  embedding: ['embedding', 'The vector a token id is turned into before the first block (plus a vector for its position). Its length is the width of the model.'],
  'residual-stream': ['residual stream', 'The vector each token carries from block to block. Every block adds what it computes to it (x = x + attention(x), then x = x + MLP(x)) rather than replacing it.'],
  block: ['block', 'One layer of the model: attention, which mixes information between tokens, then an MLP, which works on each token alone. Blocks are numbered from 0.'],
  attention: ['attention', 'Each token scores every earlier token (query · key), turns the scores into weights that sum to 1 (softmax), and reads a weighted mix of their values. A token never sees later tokens.'],
  head: ['head', 'Attention runs several times side by side in each block, each time with its own queries and keys: each run is a head, and can follow a different pattern.'],
  'query-key': ['query and key', 'Vectors each token computes: the query says what it looks for, the key what it offers. Their dot product is the attention score.'],
  mlp: ['MLP', 'The second half of a block: two matrix products with a nonlinearity between, applied to each token on its own. Its hidden units are the neurons.'],
  neuron: ['MLP neuron', 'One unit of the hidden layer of a block\'s MLP, after the nonlinearity. Interventions can add to it.'],
  logits: ['logits', 'One score per vocabulary token for what comes next. Softmax turns them into probabilities: a logit higher by 1 makes a token about 2.7 times as likely.'],
  probability: ['probability', 'A number from 0 to 1; over all tokens they sum to 1. The views draw probabilities on scales that start at 0.'],
  softmax: ['softmax', 'exp(x) / sum of exp(x): turns scores into positive weights that sum to 1.'],
  'logit-lens': ['logit lens', 'Reading a block\'s residual stream through the final layer norm and the output layer, as if the model stopped there: what would it predict after that many blocks?'],
  temperature: ['temperature', 'Divides the logits before sampling. Below 1 sharpens the distribution (0 always takes the most likely token: greedy), above 1 flattens it.'],
  'top-k': ['top-k', 'Keep only the k most likely tokens and draw among them. Off when 0.'],
  'top-p': ['top-p', 'Keep the most likely tokens until their probabilities add up to p (nucleus sampling). Off at 1.'],
  'min-p': ['min-p', 'Drop every token whose probability is below min-p times that of the most likely token. Off at 0.'],
  'repetition-penalty': ['repetition penalty', 'Makes tokens already in the text less likely: their positive logits are divided by it, negative ones multiplied. 1 is off.'],
  seed: ['seed', 'Starts the random draws: the same seed and settings give the same text.'],
  'kv-cache': ['KV cache', 'Keeps the keys and values of earlier tokens so that each new token costs one step instead of re-reading the whole text. The output is the same with it off, only slower.'],
  entropy: ['entropy', 'How spread out a distribution is, in nats: 0 when one token is certain, ln(n) when n tokens are equally likely.'],
  nats: ['nats', 'The unit of entropy and KL divergence with the natural logarithm (bits use log base 2; 1 nat is about 1.44 bits).'],
  kl: ['KL divergence', 'How different two distributions are, in nats: KL(BASE‖TWEAK) = Σ p_base · ln(p_base / p_tweak). 0 when they are the same.'],
  hook: ['hook', 'A named point inside the model where an activation can be read or changed, with TransformerLens\'s names: blocks.1.attn.hook_z is head outputs of block 1.'],
  'hook-z': ['hook_z', 'The output of each attention head (the weighted mix of values) before the heads are joined and projected back into the residual stream. Zeroing one head\'s z silences that head.'],
  intervention: ['intervention', 'A change made to an activation while the model runs, at every step. BASE runs without it, TWEAK with it, on the same text.'],
  'induction-head': ['induction head', 'A head that, at a token seen before, looks at the token that followed it last time, so the model can copy a repeated passage. In the attention map it shows as a stripe parallel to the diagonal.'],
  context: ['context', 'The most tokens the model can look at at once (its n_ctx): the prompt and what it generates must fit in it.'],
  safetensors: ['safetensors', 'The file format of the weights: a small JSON header naming each tensor with its shape, then the raw numbers. config.json beside it describes the model\'s shape.'],
  f16: ['f16', 'Half-precision numbers: 2 bytes per weight instead of 4 (f32), so half the GPU memory, with slightly rounded results.'],
  quantized: ['q8 and q4', 'Quantized weights: each row cut into blocks of 32 numbers, each block stored as small integers (8 bits for q8, 4 bits for q4) and one scale, made from the float weights as the model loads. About 0.28x (q8) and 0.16x (q4) of the memory of f32, with more rounding than f16. Checkpoints quantized by other tools (GPTQ, AWQ, bitsandbytes) are not read: load the float one.'],
  profile: ['GPU time', 'Time measured on the GPU itself with timestamp queries around each kernel dispatch (a kernel is one small GPU program, such as a matrix product).'],
};

/** A link to the glossary entry `key`, its explanation as the tooltip. */
export function term(key: keyof typeof GLOSSARY, text?: string): HTMLAnchorElement {
  const [name, meaning] = GLOSSARY[key]!;
  const link = el('a', 'term', text ?? name);
  link.href = `#g-${key}`;
  link.title = meaning;
  return link;
}

/** Text with {key} or {key|shown text} placeholders turned into glossary links. */
export function explained(tag: 'p' | 'span', className: string, text: string): HTMLElement {
  const node = el(tag, className);
  let at = 0;
  for (const m of text.matchAll(/\{([\w-]+)(?:\|([^}]+))?\}/g)) {
    node.append(text.slice(at, m.index));
    node.append(GLOSSARY[m[1]!] ? term(m[1]!, m[2]) : m[0]);
    at = m.index + m[0].length;
  }
  node.append(text.slice(at));
  return node;
}

/** Fill the glossary list, and give the page's static term links their tooltips. */
export function setUpGlossary(list: HTMLElement): void {
  for (const [key, [name, meaning]] of Object.entries(GLOSSARY)) {
    const dt = el('dt', '', name);
    dt.id = `g-${key}`;
    list.append(dt, el('dd', '', meaning));
  }
  for (const link of document.querySelectorAll<HTMLAnchorElement>('a.term')) {
    const entry = GLOSSARY[link.hash.slice(3)];
    if (entry && !link.title) link.title = entry[1];
  }
}
