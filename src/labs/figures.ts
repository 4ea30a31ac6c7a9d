// Figures for the labs: Vega-Lite specs compiled by vega to SVG without a browser, rasterized to PNG by resvg.
// Every figure keeps the numbers it was drawn from (`data`), which `--json` prints.
// vega and resvg load when a figure is drawn, not with the library (they would double `wgpt generate`'s start-up);
// resvg, a native Node module, by a name bundlers leave alone, so the browser build never sees it.
import type { TopLevelSpec } from 'vega-lite';

export interface Figure {
  /** File name without extension, e.g. "attention-L0H1". */
  name: string;
  title: string;
  spec: TopLevelSpec;
  /** The rows the figure draws. */
  data: Record<string, unknown>[];
}

const FONT = 'DejaVu Sans';

/** SVG text and PNG bytes of a figure. */
export async function renderFigure(figure: Figure): Promise<{ svg: string; png: Uint8Array }> {
  const [vega, { compile }] = await Promise.all([import('vega'), import('vega-lite')]);
  const resvg = '@resvg/resvg-js';
  const { Resvg } = (await import(/* @vite-ignore */ resvg)) as typeof import('@resvg/resvg-js');
  const spec = { ...figure.spec, data: { values: figure.data }, config: { font: FONT, background: 'white', legend: { labelLimit: 400, titleLimit: 400 }, axis: { labelLimit: 200 }, header: { labelFontSize: 12, titleFontSize: 13 } } } as TopLevelSpec;
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  const png = new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: FONT }, background: 'white', fitTo: { mode: 'zoom', value: 2 } }).render().asPng();
  return { svg, png };
}

/** Write `<out>/<name>.svg` and `.png` for each figure; returns the paths written. */
export async function writeFigures(figures: Figure[], outDir: string): Promise<string[]> {
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  const path = process.getBuiltinModule('path') as typeof import('path');
  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  for (const f of figures) {
    const { svg, png } = await renderFigure(f);
    const base = path.join(outDir, f.name);
    fs.writeFileSync(`${base}.svg`, svg);
    fs.writeFileSync(`${base}.png`, png);
    written.push(`${base}.svg`, `${base}.png`);
  }
  return written;
}

/** Token labels that stay distinct on an axis: position, then the token text with spaces and newlines visible. */
export function tokenLabels(texts: string[]): string[] {
  return texts.map((t, i) => `${i}: ${showToken(t)}`);
}

export function showToken(t: string): string {
  return JSON.stringify(t).slice(1, -1).replace(/ /g, '·');
}

/**
 * A heatmap of `value` over x and y fields (ordinal, in the order given), with an optional text field in cells.
 * `domain` fixes the colour scale (values beyond it take the end colours), so figures of the same measure compare;
 * `zero` anchors a sequential scale at 0 (probabilities, KL). Cell text is black on light cells and white on dark.
 */
export function heatmap(o: {
  title: string;
  x: string;
  y: string;
  xTitle: string;
  yTitle: string;
  value: string;
  valueTitle: string;
  xOrder?: string[];
  yOrder?: string[];
  text?: string;
  diverging?: boolean;
  domain?: [number, number];
  zero?: boolean;
  cell?: number;
  /** A narrower cell for many columns (defaults to cell). */
  cellWidth?: number;
  /** The x labels to show when there are too many to show them all. */
  xTicks?: string[];
  facet?: { field: string; title: string; columns: number; order?: string[] };
}): TopLevelSpec {
  const cell = o.cell ?? 22;
  const scale: Record<string, unknown> = o.diverging ? { scheme: 'redblue', domainMid: 0, reverse: true } : { scheme: 'viridis' };
  if (o.domain) Object.assign(scale, { domain: o.domain, clamp: true });
  else if (o.zero) scale.domainMin = 0;
  const layers: any[] = [
    {
      mark: 'rect',
      encoding: {
        color: { field: o.value, type: 'quantitative', title: o.valueTitle, scale },
        tooltip: [{ field: o.x }, { field: o.y }, { field: o.value }],
      },
    },
  ];
  if (o.text) {
    // redblue is dark at both ends and pale in the middle; viridis is dark at the low end and light at the high
    const v = `datum[${JSON.stringify(o.value)}]`;
    const [lo, hi] = o.domain ?? [0, 1];
    const dark = o.diverging ? `abs(${v}) > ${0.6 * Math.max(Math.abs(lo), Math.abs(hi))}` : `${v} < ${lo + 0.55 * (hi - lo)}`;
    layers.push({
      mark: { type: 'text', fontSize: Math.max(8, Math.min(12, Math.floor(cell / 4))) },
      encoding: { text: { field: o.text }, color: { condition: { test: dark, value: 'white' }, value: 'black' } },
    });
  }
  const inner = {
    width: { step: o.cellWidth ?? cell },
    height: { step: cell },
    encoding: {
      x: { field: o.x, type: 'ordinal', title: o.xTitle, sort: o.xOrder ?? null, axis: { labelAngle: o.xTicks ? 0 : -45, labelLimit: 200, ...(o.xTicks ? { values: o.xTicks } : {}) } },
      y: { field: o.y, type: 'ordinal', title: o.yTitle, sort: o.yOrder ?? null, axis: { labelLimit: 200 } },
    },
    layer: layers,
  };
  if (o.facet) {
    return {
      title: o.title,
      facet: { field: o.facet.field, type: 'ordinal', title: o.facet.title, ...(o.facet.order ? { sort: o.facet.order } : {}) },
      columns: o.facet.columns,
      resolve: { axis: { x: 'independent', y: 'independent' } },
      spec: inner,
    } as TopLevelSpec;
  }
  return { title: o.title, ...inner } as TopLevelSpec;
}

/** Grouped horizontal bars: `value` per `category`, one bar per `group` (e.g. BASE and TWEAK). */
export function groupedBars(o: { title: string; category: string; categoryTitle: string; group: string; value: string; valueTitle: string; order?: string[] }): TopLevelSpec {
  return {
    title: o.title,
    width: 420,
    mark: 'bar',
    encoding: {
      y: { field: o.category, type: 'nominal', title: o.categoryTitle, sort: o.order ?? null },
      yOffset: { field: o.group },
      x: { field: o.value, type: 'quantitative', title: o.valueTitle },
      color: { field: o.group, type: 'nominal', title: null, scale: { range: ['#4c78a8', '#e45756', '#54a24b', '#b279a2'] } },
    },
  } as TopLevelSpec;
}

/** Lines of `y` over `x`, one per `series`. */
export function lines(o: {
  title: string;
  x: string;
  xTitle: string;
  y: string;
  yTitle: string;
  series: string;
  seriesTitle: string | null;
  xType?: 'quantitative' | 'ordinal';
  xOrder?: string[];
  points?: boolean;
  width?: number;
  height?: number;
  /** A rule at y = 0. */
  zeroRule?: boolean;
  /** One chart per value of this field, side by side. */
  column?: { field: string; title: string };
  xScale?: Record<string, unknown>;
  yScale?: Record<string, unknown>;
  /** Draw the spread: `low`..`high` fields as error bars. */
  errorBars?: { low: string; high: string };
}): TopLevelSpec {
  const x = { field: o.x, type: o.xType ?? 'quantitative', title: o.xTitle, ...(o.xOrder ? { sort: o.xOrder } : {}), ...(o.xType === 'ordinal' ? { axis: { labelAngle: -45 } } : {}), ...(o.xScale ? { scale: o.xScale } : {}) };
  const color = { field: o.series, type: 'nominal', title: o.seriesTitle, sort: null };
  const layer: any[] = [
    { mark: { type: 'line', point: o.points ?? false, strokeWidth: 1.5 }, encoding: { x, y: { field: o.y, type: 'quantitative', title: o.yTitle, ...(o.yScale ? { scale: o.yScale } : {}) }, color } },
  ];
  if (o.errorBars) layer.push({ mark: { type: 'rule' }, encoding: { x, y: { field: o.errorBars.low, type: 'quantitative' }, y2: { field: o.errorBars.high }, color } });
  if (o.zeroRule) layer.push({ data: { values: [{ zero: 0 }] }, mark: { type: 'rule', color: 'grey', strokeDash: [4, 4] }, encoding: { y: { field: 'zero', type: 'quantitative' } } });
  const inner = { width: o.width ?? 520, height: o.height ?? 260, layer };
  if (o.column) return { title: o.title, facet: { column: { field: o.column.field, type: 'nominal', title: o.column.title, sort: null } }, spec: inner } as TopLevelSpec;
  return { title: o.title, ...inner } as TopLevelSpec;
}

/** A labelled scatter plot. */
export function labelledScatter(o: { title: string; x: string; xTitle: string; y: string; yTitle: string; label: string; color?: string }): TopLevelSpec {
  return {
    title: o.title,
    width: 420,
    height: 360,
    encoding: { x: { field: o.x, type: 'quantitative', title: o.xTitle }, y: { field: o.y, type: 'quantitative', title: o.yTitle } },
    layer: [
      { mark: { type: 'point', filled: true, size: 60 }, encoding: o.color ? { color: { field: o.color, type: 'nominal' } } : {} },
      { mark: { type: 'text', dx: 6, align: 'left', fontSize: 11 }, encoding: { text: { field: o.label } } },
    ],
  } as TopLevelSpec;
}
