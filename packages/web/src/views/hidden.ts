// Hidden states: the residual stream of the chosen token as it enters block 0 and as it leaves each block, one row
// of C values per stage (blue positive, red negative), and its norm: how each block writes into the stream.
import { diverging, el } from '../dom.ts';
import type { View } from '../state.ts';
import { activations, dims } from './activations.ts';
import { tokenStrip } from './tokens.ts';

export const hiddenView: View = {
  name: 'Hidden states',
  async render(root, state) {
    const d = dims(state);
    const { cache } = await activations(state);
    const C = d.C;
    const row = (name: string) => cache.get(name)!.data.subarray(state.selected * C, (state.selected + 1) * C);
    const stages: [string, Float32Array][] = [['embed', row('blocks.0.hook_resid_pre')]];
    for (let l = 0; l < d.nLayer; l++) stages.push([`after block ${l}`, row(`blocks.${l}.hook_resid_post`)]);
    let scale = 0;
    for (const [, v] of stages) for (const x of v) scale = Math.max(scale, Math.abs(x));

    const cell = Math.max(1, Math.floor(900 / C));
    const canvas = el('canvas');
    canvas.className = 'heatmap-canvas';
    canvas.width = C * cell;
    canvas.height = stages.length * 12;
    const g = canvas.getContext('2d')!;
    stages.forEach(([, v], s) => {
      for (let c = 0; c < C; c++) {
        g.fillStyle = diverging(v[c]!, scale);
        g.fillRect(c * cell, s * 12, cell, 12);
      }
    });
    const norms = el('div', 'bars');
    norms.append(el('b', '', 'stage'), el('b', '', '‖x‖ (L2 norm)'), el('b', '', ''), el('b', '', 'largest |x|, dim'));
    const maxNorm = Math.max(...stages.map(([, v]) => Math.hypot(...v)));
    for (const [label, v] of stages) {
      const norm = Math.hypot(...v);
      let arg = 0;
      for (let c = 1; c < C; c++) if (Math.abs(v[c]!) > Math.abs(v[arg]!)) arg = c;
      const bar = el('div', 'bar');
      bar.style.width = `${(100 * norm) / maxNorm}%`;
      norms.append(el('span', '', label), bar, el('span', '', norm.toFixed(2)), el('span', '', `${v[arg]!.toFixed(2)} @ ${arg}`));
    }
    root.append(
      tokenStrip(state),
      el('p', 'hint', `Residual stream of position ${state.selected}: rows embed, then after each block; ${C} dimensions across (scale ±${scale.toFixed(2)}).`),
      canvas,
      norms,
    );
  },
};
