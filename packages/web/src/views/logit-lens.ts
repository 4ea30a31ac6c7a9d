// Logit lens: read each block's residual stream through the final norm and the LM head, as if the model stopped
// there. Rows are blocks, columns positions; each cell is the top token that block would predict next, shaded by
// its probability. The chosen position's top five per block are listed below.
import { logitLens, softmax, topLogprobs } from 'wgpt';
import { el, heat, showToken } from '../dom.ts';
import { memo, type View } from '../state.ts';
import { tokenStrip } from './tokens.ts';

export const logitLensView: View = {
  name: 'Logit lens',
  async render(root, state) {
    const lens = await memo(state, 'lens', () => logitLens(state.loaded.model, state.ids));
    const { T, V } = lens;
    const tok = (id: number) => showToken(state.loaded.tokenizer.tokenString(id));
    root.append(tokenStrip(state), el('p', 'hint', 'Top prediction of each block at each position (darker: more probable). Click a column to choose that token.'));

    const table = el('table', 'grid');
    const head = el('tr');
    head.append(el('th', '', 'block'));
    for (let t = 0; t < T; t++) head.append(el('th', t === state.selected ? 'selected' : '', tok(state.ids[t]!)));
    table.append(head);
    lens.layers.forEach((logits, l) => {
      const tr = el('tr');
      tr.append(el('th', '', String(l)));
      for (let t = 0; t < T; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const [best] = topLogprobs(row, 1);
        const p = Math.exp(best!.logprob);
        const td = el('td', 'cell', tok(best!.id));
        td.style.background = heat(p);
        td.style.color = p > 0.6 ? '#fff' : '#111';
        if (t === state.selected) td.style.outline = '2px solid #d03030';
        td.title = `block ${l}, position ${t}: ${tok(best!.id)} p=${p.toFixed(3)}`;
        td.addEventListener('click', () => state.select(t));
        tr.append(td);
      }
      table.append(tr);
    });
    root.append(table);

    const list = el('div', 'bars');
    list.append(el('b', '', 'block'), el('b', '', `top 5 after position ${state.selected}`), el('b'), el('b'));
    lens.layers.forEach((logits, l) => {
      const probs = softmax(logits.subarray(state.selected * V, (state.selected + 1) * V));
      const top = topLogprobs(logits.subarray(state.selected * V, (state.selected + 1) * V), 5);
      list.append(el('span', '', `block ${l}`), el('span', '', top.map((c) => `${tok(c.id)} ${probs[c.id]!.toFixed(2)}`).join('   ')), el('span'), el('span'));
    });
    root.append(list);
  },
};
