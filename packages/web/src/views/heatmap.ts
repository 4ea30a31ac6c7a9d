// Heatmaps the views share: a frame with a caption, labelled axes and a colour legend with its unit, whose body
// scrolls inside the view when the sequence is long; and a canvas body with token labels along its axes. Rows or
// columns that are tokens carry data-index, so hovering a token anywhere highlights its row or column here.
import { el, setHover } from '../dom.ts';

export interface Axis {
  title: string;
  /** One label per row or column ('' for none). */
  labels: string[];
  /** The token position each row or column stands for, when it is a token: for hover linking. */
  tokens?: boolean;
}

export interface LegendSpec {
  /** What the colour means, with its unit. */
  title: string;
  /** The colour at t in 0..1 along the bar. */
  colour: (t: number) => string;
  /** Tick values and where they sit along the bar (0..1). */
  ticks: { at: number; label: string }[];
}

export function legend(spec: LegendSpec): HTMLElement {
  const box = el('div', 'legend');
  box.append(el('span', 'legend-title', spec.title));
  const bar = el('div', 'legend-bar');
  const stops = Array.from({ length: 11 }, (_, i) => `${spec.colour(i / 10)} ${i * 10}%`);
  bar.style.background = `linear-gradient(to right, ${stops.join(', ')})`;
  bar.setAttribute('role', 'img');
  bar.setAttribute('aria-label', `colour scale: ${spec.ticks.map((t) => t.label).join(', ')}`);
  const ticks = el('div', 'legend-ticks');
  for (const t of spec.ticks) {
    const tick = el('span', '', t.label);
    tick.style.left = `${100 * t.at}%`;
    ticks.append(tick);
  }
  box.append(bar, ticks);
  return box;
}

/** A legend for probabilities 0..max, coloured by `colour(position)` where position = scale(p). */
export function probabilityLegend(title: string, colour: (t: number) => string, scale: (p: number) => number, max = 1): HTMLElement {
  // ticks at least a fifth of the bar apart
  const values = (max >= 1 ? [0, 0.05, 0.25, 0.5, 0.75, 1] : [0, max / 4, max / 2, (3 * max) / 4, max]).filter((p, i, all) => i === 0 || scale(p / max) - scale(all[i - 1]! / max) >= 0.2 || p === max);
  return legend({ title, colour, ticks: values.map((p) => ({ at: scale(p / max), label: p === 0 ? '0' : p >= 0.1 ? p.toFixed(2) : p.toFixed(3) })) });
}

/**
 * The frame of a heatmap: caption, the x axis title above, the y axis title beside, the body in a scrolling box,
 * the legend below. `body` already holds its tick labels.
 */
export function heatmapFrame(caption: string, x: string, y: string, body: HTMLElement, key: HTMLElement): HTMLElement {
  const figure = el('figure', 'heatmap');
  figure.append(el('figcaption', '', caption));
  const xTitle = el('div', 'axis-title x', `${x} →`);
  const yTitle = el('div', 'axis-title y', `${y} ↓`);
  const scroll = el('div', 'heatmap-scroll');
  scroll.tabIndex = 0; // a scrolling box is reachable by keyboard
  scroll.setAttribute('role', 'region');
  scroll.setAttribute('aria-label', `${caption}: scrolls when the sequence is long`);
  scroll.append(body);
  figure.append(yTitle, xTitle, scroll, key);
  return figure;
}

export interface CanvasHeatmap {
  rows: Axis;
  cols: Axis;
  cellWidth: number;
  cellHeight: number;
  /** The colour of a cell, or undefined to leave it empty (the causal mask). */
  colour(r: number, c: number): string | undefined;
  /** A row to outline (the chosen token). */
  selectedRow?: number;
  selectedCol?: number;
  onCell?(r: number, c: number): void;
  /** The tooltip of a cell. */
  describe?(r: number, c: number): string;
}

/** Show every label when cells are wide enough for text, else every k-th. */
function every(cell: number): number {
  return Math.max(1, Math.ceil(11 / cell));
}

/** The labelled body of a canvas heatmap: column labels on top, row labels on the left. */
export function canvasHeatmap(spec: CanvasHeatmap): HTMLElement {
  const { rows, cols, cellWidth: cw, cellHeight: ch } = spec;
  const R = rows.labels.length;
  const C = cols.labels.length;
  const grid = el('div', 'heatmap-grid');

  const xLabels = el('div', 'ticks x');
  xLabels.style.width = `${C * cw}px`;
  const xStep = every(cw);
  cols.labels.forEach((label, c) => {
    const tick = el('span', '', c % xStep === 0 ? label : '');
    tick.style.width = `${cw}px`;
    if (cols.tokens) tick.dataset.index = String(c);
    if (c === spec.selectedCol) tick.classList.add('selected');
    xLabels.append(tick);
  });
  const yLabels = el('div', 'ticks y');
  const yStep = every(ch);
  rows.labels.forEach((label, r) => {
    const tick = el('span', '', r % yStep === 0 ? label : '');
    tick.style.height = `${ch}px`;
    tick.style.lineHeight = `${ch}px`;
    if (rows.tokens) tick.dataset.index = String(r);
    if (r === spec.selectedRow) tick.classList.add('selected');
    yLabels.append(tick);
  });

  const plot = el('div', 'plot');
  const canvas = el('canvas');
  canvas.width = C * cw;
  canvas.height = R * ch;
  canvas.style.width = `${C * cw}px`;
  canvas.style.height = `${R * ch}px`;
  const g = canvas.getContext('2d')!;
  g.fillStyle = '#f7f7f9';
  g.fillRect(0, 0, canvas.width, canvas.height);
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < C; c++) {
      const colour = spec.colour(r, c);
      if (colour === undefined) continue;
      g.fillStyle = colour;
      g.fillRect(c * cw, r * ch, cw, ch);
    }
  }
  plot.append(canvas);
  // hover bands: one per token row and column, shown by the .hover class (see setHover)
  if (rows.tokens) for (let r = 0; r < R; r++) plot.append(band(r, 0, r * ch, C * cw, ch, 'row'));
  if (cols.tokens) for (let c = 0; c < C; c++) plot.append(band(c, c * cw, 0, cw, R * ch, 'col'));
  if (spec.selectedRow !== undefined) plot.append(band(undefined, 0, spec.selectedRow * ch, C * cw, ch, 'selected'));
  if (spec.selectedCol !== undefined) plot.append(band(undefined, spec.selectedCol * cw, 0, cw, R * ch, 'selected'));

  const cellAt = (e: MouseEvent): [number, number] => {
    const rect = canvas.getBoundingClientRect();
    const r = Math.min(R - 1, Math.max(0, Math.floor(((e.clientY - rect.top) / rect.height) * R)));
    const c = Math.min(C - 1, Math.max(0, Math.floor(((e.clientX - rect.left) / rect.width) * C)));
    return [r, c];
  };
  canvas.addEventListener('mousemove', (e) => {
    const [r, c] = cellAt(e);
    setHover(rows.tokens ? r : cols.tokens ? c : undefined);
    if (spec.describe) canvas.title = spec.describe(r, c);
  });
  canvas.addEventListener('mouseleave', () => setHover(undefined));
  if (spec.onCell) {
    canvas.style.cursor = 'pointer';
    canvas.addEventListener('click', (e) => spec.onCell!(...cellAt(e)));
  }

  grid.append(el('div', 'corner'), xLabels, yLabels, plot);
  // once on screen, scroll the chosen row into the middle of the box when it is out of sight
  if (spec.selectedRow !== undefined) {
    const row = spec.selectedRow;
    requestAnimationFrame(() => {
      const box = grid.closest<HTMLElement>('.heatmap-scroll');
      if (!box) return;
      const top = xLabels.offsetHeight + row * ch;
      if (top < box.scrollTop || top + ch > box.scrollTop + box.clientHeight) box.scrollTop = top - box.clientHeight / 2;
      // a token-by-token map (attention): bring the row's own column, the diagonal, into sight too
      const left = yLabels.offsetWidth + row * cw;
      if (rows.tokens && cols.tokens && left + cw > box.scrollLeft + box.clientWidth) box.scrollLeft = left - box.clientWidth / 2;
    });
  }
  return grid;
}

function band(index: number | undefined, left: number, top: number, width: number, height: number, kind: string): HTMLElement {
  const b = el('div', `band ${kind}`);
  if (index !== undefined) b.dataset.index = String(index);
  Object.assign(b.style, { left: `${left}px`, top: `${top}px`, width: `${width}px`, height: `${height}px` });
  return b;
}
