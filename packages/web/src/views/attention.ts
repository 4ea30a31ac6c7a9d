// Attention: the pattern softmax(q·kᵀ/√HS) of one layer and head as a heatmap (rows: the query token, columns: the
// token it reads from; the causal mask leaves the upper triangle empty), the tokens the chosen one reads most, and
// the grid of every head of the layer.
import { el, heat, linkHover, showToken } from '../dom.ts';
import { term } from '../glossary.ts';
import type { InsideState, View } from '../state.ts';
import { activations, dims, numberPicker, pick, setPick } from './activations.ts';
import { canvasHeatmap, heatmapFrame, probabilityLegend } from './heatmap.ts';
import { tokenStrip } from './tokens.ts';

/** Attention weights are mostly small: a square-root colour scale keeps 0.05 visible while 0 stays white. */
const scale = (p: number) => Math.sqrt(Math.max(0, p));
const colour = (p: number) => heat(scale(p));
const TOP_KEYS = 10;

function weightLegend(): HTMLElement {
  return probabilityLegend('attention weight (a probability, 0 to 1; square-root colour scale)', heat, scale);
}

/** Head h of a pattern [NH, T, T] as a canvas of T×T cells. */
function thumbnail(pattern: Float32Array, h: number, T: number, size: number): HTMLCanvasElement {
  const canvas = el('canvas');
  const cell = Math.max(1, Math.floor(size / T));
  canvas.width = canvas.height = T * cell;
  const g = canvas.getContext('2d')!;
  g.fillStyle = '#f7f7f9';
  g.fillRect(0, 0, canvas.width, canvas.height);
  for (let q = 0; q < T; q++) {
    for (let k = 0; k <= q; k++) {
      g.fillStyle = colour(pattern[(h * T + q) * T + k]!);
      g.fillRect(k * cell, q * cell, cell, cell);
    }
  }
  return canvas;
}

export const attentionView: View = {
  name: 'Attention',
  intro:
    'Each row is one token reading the tokens before it: the darker a cell, the more of that column\'s token it takes in ({attention}). ' +
    'Look for a bright first column (a resting place when nothing is useful), a diagonal (the previous token), and in a repeated passage a stripe just off the diagonal: an {induction-head}.',
  async render(root, state: InsideState) {
    const d = dims(state);
    const layer = pick('layer', d.nLayer - 1);
    const head = pick('head', d.NH - 1);
    const { cache } = await activations(state);
    const pattern = cache.get(`blocks.${layer}.attn.hook_pattern`)!.data;
    const T = state.ids.length;
    const redraw = () => state.select(state.selected);
    const tok = (i: number) => showToken(state.loaded.tokenizer.tokenString(state.ids[i]!));
    const labels = state.ids.map((_, i) => tok(i));
    const weight = (q: number, k: number) => pattern[(head * T + q) * T + k]!;

    const controls = el('div', 'view-controls');
    controls.append(numberPicker(`block (0-${d.nLayer - 1})`, 'layer', d.nLayer - 1, redraw), numberPicker(`head (0-${d.NH - 1})`, 'head', d.NH - 1, redraw));
    root.append(tokenStrip(state), controls);

    const cell = Math.max(14, Math.min(28, Math.floor(480 / T)));
    const body = canvasHeatmap({
      rows: { title: 'query', labels, tokens: true },
      cols: { title: 'key', labels, tokens: true },
      cellWidth: cell,
      cellHeight: cell,
      colour: (q, k) => (k <= q ? colour(weight(q, k)) : undefined),
      selectedRow: state.selected,
      onCell: (q) => state.select(q),
      describe: (q, k) => (k <= q ? `${tok(q)} (position ${q}) reads ${tok(k)} (position ${k}) with weight ${weight(q, k).toFixed(3)}` : `position ${q} cannot see later position ${k}`),
    });
    const map = heatmapFrame(`Block ${layer}, head ${head}: who reads whom. Click a row to choose that token.`, 'key: the token read from', 'query: the token reading', body, weightLegend());

    // the chosen token's row, in words: the tokens it reads most
    const row = el('div', 'bars');
    row.append(el('b', '', 'key token'), el('b', '', `weight (0 to 1) from position ${state.selected}`), el('b', '', 'weight'));
    const keys = Array.from({ length: state.selected + 1 }, (_, k) => k).sort((a, b) => weight(state.selected, b) - weight(state.selected, a));
    for (const k of keys.slice(0, TOP_KEYS)) {
      const w = weight(state.selected, k);
      const bar = el('div', 'bar');
      bar.style.width = `${100 * w}%`;
      const label = el('span', 'key', `${k}: ${tok(k)}`);
      linkHover(label, k);
      row.append(label, bar, el('span', '', w.toFixed(3)));
    }
    const words = el('div');
    words.append(el('h3', '', `What ${tok(state.selected)} (position ${state.selected}) reads most`), row);
    if (keys.length > TOP_KEYS) words.append(el('p', 'hint', `the ${TOP_KEYS} largest of ${keys.length} weights; they sum to 1 over all ${keys.length}`));
    const side = el('div', 'side');
    side.append(map, words);

    // every head of the layer, small, with the same axes and colours
    const grid = el('div', 'heads');
    for (let h = 0; h < d.NH; h++) {
      const fig = el('button', h === head ? 'head shown' : 'head');
      fig.type = 'button';
      fig.setAttribute('aria-pressed', String(h === head));
      fig.append(thumbnail(pattern, h, T, 120), el('span', '', `head ${h}`));
      fig.addEventListener('click', () => {
        setPick('head', h);
        redraw();
      });
      grid.append(fig);
    }
    const heads = heatmapFrame(`Every head of block ${layer} (click one to show it above)`, 'key', 'query', grid, weightLegend());
    heads.classList.add('small-multiples');
    const note = el('p', 'hint');
    note.append('Heads in the same ', term('block'), ' run side by side on the same tokens; each learns its own pattern.');
    root.append(side, heads, note);
  },
};
