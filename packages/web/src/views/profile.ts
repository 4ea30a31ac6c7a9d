// Profile: the time of every dispatch of one decode step (the last token of the sequence, reading the others from
// the KV cache), from timestamp queries around each dispatch (WebGPU) or the clock around each op (WebAssembly).
// Summed per kernel below.
import { isWasmDevice, profileByKernel, profileRows } from 'wgpt';
import { el } from '../dom.ts';
import { memo, type View } from '../state.ts';

export const profileView: View = {
  name: 'Profile',
  intro:
    'Where the {profile|GPU time} of one generation step goes: every kernel the model dispatches for one new token, in order, then summed by kernel. ' +
    'Look for the matrix products taking most of it, and for the output layer (the LM head, one row per vocabulary token) being the largest single one in a small model.',
  async render(root, state) {
    const wasm = isWasmDevice(state.gpu);
    if (!state.gpu.hasTimestamps && !wasm) {
      root.append(el('p', 'unavailable', 'This adapter has no timestamp queries (feature "timestamp-query"), so kernels cannot be timed here. In Chrome, start it with --enable-dawn-features=allow_unsafe_apis or try another GPU.'));
      return;
    }
    const { model } = state.loaded;
    const timings = await memo(state, 'profile', async () => {
      const T = state.ids.length;
      if (T > 1) await model.forward(state.ids.slice(0, -1), 0); // fill the KV cache
      return (await model.forward(state.ids.slice(-1), T - 1, { profile: true })).profile ?? [];
    });
    const total = timings.reduce((n, t) => n + t.ms, 0);
    root.append(el('p', '', `Decode step at position ${state.ids.length - 1}: ${timings.length} ${wasm ? 'ops' : 'dispatches'}, ${total.toFixed(3)} ms of ${wasm ? 'CPU time (the clock around each op)' : 'GPU time'} on ${state.gpu.info.name}.`));
    const side = el('div', 'side');
    side.append(table('every dispatch', ['kernel', 'block', 'shape', 'ms', 'share of the step'], profileRows(timings).map((r) => [r.label, r.layer ?? '-', r.shape ?? '', r.ms.toFixed(4), r.share])));
    side.append(table('by kernel', ['kernel', 'calls', 'ms', 'share of the step'], profileByKernel(timings).map((k) => [k.label, k.calls, k.ms.toFixed(4), k.share])));
    root.append(side);
  },
};

/** A table whose last column is a share (0..1), drawn as a bar. */
function table(title: string, head: string[], rows: (string | number)[][]): HTMLElement {
  const box = el('div');
  box.append(el('h3', '', title));
  const scroll = el('div', 'table-scroll');
  scroll.tabIndex = 0;
  scroll.setAttribute('role', 'region');
  scroll.setAttribute('aria-label', title);
  const t = el('table', 'grid');
  const hr = el('tr');
  for (const h of head) hr.append(el('th', '', h));
  t.append(hr);
  for (const row of rows) {
    const tr = el('tr');
    row.forEach((cell, i) => {
      if (i === row.length - 1) {
        const td = el('td');
        const bar = el('div', 'bar');
        bar.style.width = `${Math.round(100 * Number(cell))}px`; // 100 px = the whole step
        bar.title = `${(100 * Number(cell)).toFixed(1)}%`;
        td.append(bar);
        tr.append(td);
      } else tr.append(el('td', '', String(cell)));
    });
    t.append(tr);
  }
  scroll.append(t);
  box.append(scroll);
  return box;
}
