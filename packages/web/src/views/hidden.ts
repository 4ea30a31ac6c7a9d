// Hidden states: the residual stream of the chosen token as it enters block 0 (the embedding) and as it leaves each
// block, one row of C values per stage (blue positive, red negative), and its norm: how each block writes into it.
import { diverging, el, showToken } from '../dom.ts';
import type { View } from '../state.ts';
import { activations, dims } from './activations.ts';
import { canvasHeatmap, heatmapFrame, legend } from './heatmap.ts';
import { tokenStrip } from './tokens.ts';

export const hiddenView: View = {
  name: 'Hidden states',
  intro:
    'The {residual-stream} of the chosen token: its {embedding} on the first row, then the vector after each {block} (attention and {mlp} both add to it). ' +
    'Look for the norm growing block by block, and for a few dimensions that stay large for every token: the model uses them as fixed reference points.',
  async render(root, state) {
    const d = dims(state);
    const { cache } = await activations(state);
    const C = d.C;
    const row = (name: string) => cache.get(name)!.data.subarray(state.selected * C, (state.selected + 1) * C);
    const stages: [string, Float32Array][] = [['embedding', row('blocks.0.hook_resid_pre')]];
    for (let l = 0; l < d.nLayer; l++) stages.push([`after block ${l}`, row(`blocks.${l}.hook_resid_post`)]);
    let scale = 0;
    for (const [, v] of stages) for (const x of v) scale = Math.max(scale, Math.abs(x));

    const cellWidth = Math.max(2, Math.min(8, Math.floor(900 / C)));
    const tick = Math.max(1, 2 ** Math.ceil(Math.log2(40 / cellWidth))); // a dimension label every ~40 px
    const body = canvasHeatmap({
      rows: { title: 'stage', labels: stages.map(([label]) => label) },
      cols: { title: 'dimension', labels: Array.from({ length: C }, (_, c) => (c % tick === 0 ? String(c) : '')) },
      cellWidth,
      cellHeight: 18,
      colour: (s, c) => diverging(stages[s]![1][c]! / scale),
      describe: (s, c) => `${stages[s]![0]}, dimension ${c}: ${stages[s]![1][c]!.toFixed(3)}`,
    });
    body.classList.add('sparse-x');
    const s = scale.toPrecision(3);
    const key = legend({
      title: 'value of the dimension (no unit; red negative, blue positive)',
      colour: (t) => diverging(2 * t - 1),
      ticks: [
        { at: 0, label: `−${s}` },
        { at: 0.5, label: '0' },
        { at: 1, label: `+${s}` },
      ],
    });
    const token = showToken(state.loaded.tokenizer.tokenString(state.ids[state.selected]!));
    const map = heatmapFrame(`The residual stream of ${token} (position ${state.selected}), ${C} dimensions`, 'dimension', 'stage', body, key);

    const norms = el('div', 'bars');
    norms.append(el('b', '', 'stage'), el('b', '', '‖x‖, the length of the vector (0 to the largest)'), el('b', '', '‖x‖'), el('b', 'wide', 'largest |x| @ dimension'));
    const maxNorm = Math.max(...stages.map(([, v]) => Math.hypot(...v)));
    for (const [label, v] of stages) {
      const norm = Math.hypot(...v);
      let arg = 0;
      for (let c = 1; c < C; c++) if (Math.abs(v[c]!) > Math.abs(v[arg]!)) arg = c;
      const bar = el('div', 'bar');
      bar.style.width = `${(100 * norm) / maxNorm}%`;
      norms.append(el('span', '', label), bar, el('span', '', norm.toFixed(2)), el('span', 'wide', `${v[arg]!.toFixed(2)} @ ${arg}`));
    }
    root.append(tokenStrip(state), map, norms);
  },
};
