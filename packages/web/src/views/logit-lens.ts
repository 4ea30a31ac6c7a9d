// Logit lens: read each block's residual stream through the final norm and the LM head, as if the model stopped
// there. Rows are blocks, columns positions; each cell is the top token that block would predict next, shaded by
// its probability. The chosen position's top five per block are listed below.
import { logitLens, softmax, topLogprobs } from 'wgpt';
import { el, heat, inkOn, linkHover, setHover, showToken } from '../dom.ts';
import { memo, type View } from '../state.ts';
import { heatmapFrame, probabilityLegend } from './heatmap.ts';
import { tokenStrip } from './tokens.ts';

export const logitLensView: View = {
  name: 'Logit lens',
  intro:
    'What the model would predict next if it stopped after each {block}: the {logit-lens}. Each cell shows the top token and is shaded by its {probability}. ' +
    'Look for the last block settling on a guess that earlier blocks did not have, and for easy tokens (the second half of a word) that are right from block 0.',
  async render(root, state) {
    const lens = await memo(state, 'lens', () => logitLens(state.loaded.model, state.ids));
    const { T, V } = lens;
    const tok = (id: number) => showToken(state.loaded.tokenizer.tokenString(id));
    root.append(tokenStrip(state));

    const table = el('table', 'grid lens');
    const head = el('tr');
    head.append(el('td', 'corner'));
    for (let t = 0; t < T; t++) {
      const th = el('th', `tick${t === state.selected ? ' selected' : ''}`, tok(state.ids[t]!));
      th.scope = 'col';
      th.title = `position ${t}`;
      linkHover(th, t);
      head.append(th);
    }
    table.append(head);
    lens.layers.forEach((logits, l) => {
      const tr = el('tr');
      const th = el('th', 'tick', `block ${l}`);
      th.scope = 'row';
      tr.append(th);
      for (let t = 0; t < T; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const [best] = topLogprobs(row, 1);
        const p = Math.exp(best!.logprob);
        const td = el('td', `cell${t === state.selected ? ' selected' : ''}`, tok(best!.id));
        td.style.background = heat(p);
        td.style.color = inkOn(p);
        td.title = `after block ${l}, position ${t} would predict ${tok(best!.id)} with probability ${p.toFixed(3)}`;
        td.dataset.index = String(t);
        td.addEventListener('click', () => state.select(t));
        td.addEventListener('mouseenter', () => setHover(t));
        tr.append(td);
      }
      table.append(tr);
    });
    table.addEventListener('mouseleave', () => setHover(undefined));
    const key = probabilityLegend('probability of the top token (0 to 1)', heat, (p) => p);
    requestAnimationFrame(() => {
      // the chosen column in sight when the table scrolls sideways
      const cell = table.querySelector<HTMLElement>('th.selected');
      const box = table.closest<HTMLElement>('.heatmap-scroll');
      if (cell && box && cell.offsetLeft + cell.offsetWidth > box.clientWidth) box.scrollLeft = cell.offsetLeft - box.clientWidth / 2;
    });
    root.append(heatmapFrame('The top next-token guess of each block at each position. Click a column to choose that token.', 'position: the token the guess follows', 'block', table, key));

    const list = el('div', 'bars lens-list');
    list.append(el('b', '', 'block'), el('b', '', `top 5 guesses after ${tok(state.ids[state.selected]!)} (position ${state.selected}), with probabilities`));
    lens.layers.forEach((logits, l) => {
      const at = logits.subarray(state.selected * V, (state.selected + 1) * V);
      const probs = softmax(at);
      const top = topLogprobs(at, 5);
      const guesses = el('span', 'guesses');
      for (const c of top) guesses.append(el('span', 'guess', `${tok(c.id)} ${probs[c.id]!.toFixed(2)}`));
      list.append(el('span', '', `block ${l}`), guesses);
    });
    root.append(list);
  },
};
