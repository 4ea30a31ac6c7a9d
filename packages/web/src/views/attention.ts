// Attention: the pattern softmax(q·kᵀ/√HS) of one layer and head as a heatmap (rows: the query token, columns: the
// token it reads from; the causal mask leaves the upper triangle empty), the chosen token's row in words, and the
// grid of every head of the layer.
import { el, heat, showToken } from '../dom.ts';
import type { InsideState, View } from '../state.ts';
import { activations, dims, numberPicker, pick, setPick } from './activations.ts';
import { tokenStrip } from './tokens.ts';

/** Draw head h of a pattern [NH, T, T] on a canvas, one cell per (query, key), the chosen row outlined. */
function heatmap(pattern: Float32Array, h: number, T: number, selected: number, cell: number): HTMLCanvasElement {
  const canvas = el('canvas');
  canvas.width = canvas.height = T * cell;
  const g = canvas.getContext('2d')!;
  for (let q = 0; q < T; q++) {
    for (let k = 0; k <= q; k++) {
      g.fillStyle = heat(pattern[(h * T + q) * T + k]!);
      g.fillRect(k * cell, q * cell, cell, cell);
    }
  }
  g.strokeStyle = '#d03030';
  g.lineWidth = Math.max(1, cell / 6);
  g.strokeRect(0, selected * cell, T * cell, cell);
  return canvas;
}

export const attentionView: View = {
  name: 'Attention',
  async render(root, state: InsideState) {
    const d = dims(state);
    const layer = pick('layer', d.nLayer - 1);
    const head = pick('head', d.NH - 1);
    const { cache } = await activations(state);
    const pattern = cache.get(`blocks.${layer}.attn.hook_pattern`)!.data;
    const T = state.ids.length;
    const redraw = () => state.select(state.selected);

    const controls = el('div', 'view-controls');
    controls.append(numberPicker('layer', 'layer', d.nLayer - 1, redraw), numberPicker('head', 'head', d.NH - 1, redraw));
    root.append(tokenStrip(state), controls);

    const side = el('div', 'side');
    const big = el('figure');
    const canvas = heatmap(pattern, head, T, state.selected, Math.max(4, Math.floor(480 / T)));
    canvas.className = 'heatmap-canvas';
    canvas.addEventListener('click', (e) => {
      const rect = canvas.getBoundingClientRect();
      state.select(Math.min(T - 1, Math.floor(((e.clientY - rect.top) / rect.height) * T)));
    });
    big.append(canvas, el('figcaption', '', `layer ${layer}, head ${head}: row = query token, column = key token. Click a row to choose it.`));

    // the chosen token's row, in words: where it reads from
    const row = el('div', 'bars');
    row.append(el('b', '', 'key token'), el('b', '', `attention from position ${state.selected}`), el('b', '', 'weight'), el('b', '', ''));
    for (let k = 0; k <= state.selected; k++) {
      const w = pattern[(head * T + state.selected) * T + k]!;
      const bar = el('div', 'bar');
      bar.style.width = `${100 * w}%`;
      row.append(el('span', '', `${k}: ${showToken(state.loaded.tokenizer.tokenString(state.ids[k]!))}`), bar, el('span', '', w.toFixed(3)), el('span'));
    }
    side.append(big, row);
    root.append(side, el('h3', '', `every head of layer ${layer} (click one)`));

    const grid = el('div', 'heads');
    for (let h = 0; h < d.NH; h++) {
      const fig = el('figure');
      fig.append(heatmap(pattern, h, T, state.selected, Math.max(2, Math.floor(120 / T))), el('figcaption', '', `head ${h}${h === head ? ' (shown)' : ''}`));
      fig.addEventListener('click', () => {
        setPick('head', h);
        redraw();
      });
      grid.append(fig);
    }
    root.append(grid);
  },
};
