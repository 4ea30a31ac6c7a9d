// Next-token: the model's distribution over the token after the chosen one, and what each sampling filter does to
// it. The filters are the runtime's own (src/sampling/processors.ts), in the order the sampler applies them:
// temperature, then top-k, top-p, min-p, each on what the previous one left.
import { applyTemperature, entropy, idsByValueDescending, minPFilter, softmax, topKFilter, topPFilter } from 'wgpt';
import { el, linkHover, showToken } from '../dom.ts';
import { explained } from '../glossary.ts';
import { memo, type InsideState, type View } from '../state.ts';
import { tokenStrip } from './tokens.ts';

const SHOWN = 24;

/** Logits of every position of the sequence, [T, V]. */
export function allLogits(state: InsideState): Promise<Float32Array> {
  return memo(state, 'logits', async () => (await state.loaded.model.forward(state.ids, 0, { allLogits: true })).logits);
}

export const nextTokenView: View = {
  name: 'Next token',
  intro:
    'The {probability} of every candidate for the token after the chosen one, and what the sampling settings of the Generate panel do to it: ' +
    '{temperature} reshapes it, {top-k}, {top-p} and {min-p} cut candidates (grey bars). Move the sliders and watch the bars; the token that actually came next is marked.',
  followsSliders: true,
  async render(root, state) {
    const V = state.loaded.model.vocabSize;
    const all = await allLogits(state);
    const logits = all.subarray(state.selected * V, (state.selected + 1) * V);
    const s = state.sampling();
    const tok = (id: number) => showToken(state.loaded.tokenizer.tokenString(id));

    // each stage's survivors; a token's "removed by" is the first stage that set it to -Infinity
    const stages: [string, Float32Array][] = [];
    let x: Float32Array = s.temperature > 0 ? applyTemperature(logits, s.temperature) : logits.slice();
    const scaled = x;
    if (s.temperature === 0) x = topKFilter(x, 1); // greedy: only the argmax survives
    else {
      if (s.topK > 0) stages.push(['top-k', (x = topKFilter(x, s.topK))]);
      if (s.topP < 1) stages.push(['top-p', (x = topPFilter(x, s.topP))]);
      if (s.minP > 0) stages.push(['min-p', (x = minPFilter(x, s.minP))]);
    }
    const before = softmax(scaled);
    const after = softmax(x);
    const kept = after.reduce((n, p) => n + (p > 0 ? 1 : 0), 0);
    const nats = (p: ArrayLike<number>) => entropy(p).toFixed(3);
    // the token that came next in the sequence: the prompt's own, or the one the sampler drew
    const nextAt = state.selected + 1 < state.ids.length ? state.selected + 1 : undefined;
    const next = nextAt === undefined ? undefined : state.ids[nextAt]!;

    root.append(
      tokenStrip(state),
      explained(
        'p',
        '',
        `After ${tok(state.ids[state.selected]!)} (position ${state.selected}), temperature ${s.temperature}${s.temperature === 0 ? ' (greedy)' : ''}: ` +
          `{entropy} ${nats(before)} {nats} before the filters, ${nats(after)} after; ${kept} of ${V} tokens can be drawn.`,
      ),
    );
    const bars = el('div', 'bars next');
    const top = idsByValueDescending(scaled, SHOWN);
    if (next !== undefined && !top.includes(next)) top.push(next);
    const maxP = before[top[0]!]!;
    bars.append(el('b', '', 'token'), el('b', 'axis', `probability after temperature: 0 to ${maxP.toFixed(3)}`), el('b', '', 'p'), el('b', 'wide', 'filter; p when drawn'));
    for (const id of top) {
      const removedBy = s.temperature === 0 ? (x[id] === -Infinity ? 'greedy' : undefined) : stages.find(([, out]) => out[id] === -Infinity)?.[0];
      const chosen = id === next;
      const bar = el('div', `bar${removedBy ? ' removed' : ''}`);
      bar.style.width = `${(100 * before[id]!) / maxP}%`;
      const label = el('span', chosen ? 'chosen' : '', tok(id));
      if (chosen) {
        label.title = nextAt! >= state.promptLength ? 'the sampler drew this token' : 'this token came next in the prompt';
        linkHover(label, nextAt!);
        label.append(el('span', 'mark', nextAt! >= state.promptLength ? ' ← drawn' : ' ← next'));
      }
      bars.append(
        label,
        bar,
        el('span', '', before[id]!.toFixed(4)),
        el('span', `wide${removedBy ? ' removed-by' : ''}`, removedBy ? `removed by ${removedBy}` : `kept, ${after[id]!.toFixed(4)}`),
      );
    }
    root.append(bars);
    if (next === undefined) root.append(el('p', 'hint', 'This is the last token of the sequence: nothing came after it yet. Choose an earlier token to see which candidate was taken.'));
  },
};
