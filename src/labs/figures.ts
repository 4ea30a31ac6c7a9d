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
  const spec = { ...figure.spec, data: { values: figure.data }, config: { font: FONT, background: 'white', legend: { labelLimit: 400 } } } as TopLevelSpec;
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

/** A heatmap of `value` over x and y fields (ordinal, in the order given), with an optional text field in cells. */
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
  cell?: number;
  facet?: { field: string; title: string; columns: number };
}): TopLevelSpec {
  const cell = o.cell ?? 22;
  const layers: any[] = [
    {
      mark: 'rect',
      encoding: {
        color: {
          field: o.value,
          type: 'quantitative',
          title: o.valueTitle,
          scale: o.diverging ? { scheme: 'redblue', domainMid: 0, reverse: true } : { scheme: 'viridis' },
        },
        tooltip: [{ field: o.x }, { field: o.y }, { field: o.value }],
      },
    },
  ];
  if (o.text) layers.push({ mark: { type: 'text', fontSize: 8 }, encoding: { text: { field: o.text }, color: { value: 'white' } } });
  const inner = {
    width: { step: cell },
    height: { step: cell },
    encoding: {
      x: { field: o.x, type: 'ordinal', title: o.xTitle, sort: o.xOrder ?? null, axis: { labelAngle: -45, labelLimit: 120 } },
      y: { field: o.y, type: 'ordinal', title: o.yTitle, sort: o.yOrder ?? null, axis: { labelLimit: 160 } },
    },
    layer: layers,
  };
  if (o.facet) {
    return { title: o.title, facet: { field: o.facet.field, type: 'ordinal', title: o.facet.title }, columns: o.facet.columns, spec: inner } as TopLevelSpec;
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
export function lines(o: { title: string; x: string; xTitle: string; y: string; yTitle: string; series: string; seriesTitle: string; xType?: 'quantitative' | 'ordinal'; xOrder?: string[]; points?: boolean; width?: number }): TopLevelSpec {
  return {
    title: o.title,
    width: o.width ?? 520,
    height: 260,
    mark: { type: 'line', point: o.points ?? false, strokeWidth: 1.5 },
    encoding: {
      x: { field: o.x, type: o.xType ?? 'quantitative', title: o.xTitle, ...(o.xOrder ? { sort: o.xOrder } : {}), ...(o.xType === 'ordinal' ? { axis: { labelAngle: -45 } } : {}) },
      y: { field: o.y, type: 'quantitative', title: o.yTitle },
      color: { field: o.series, type: 'nominal', title: o.seriesTitle, sort: null },
    },
  } as TopLevelSpec;
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
