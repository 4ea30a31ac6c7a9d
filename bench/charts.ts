// SVG charts of a bench report, drawn with Vega-Lite specs rendered by Vega in Node (no browser, no canvas):
//   roofline.svg  each kernel case's GFLOP/s against its arithmetic intensity, under this adapter's two ceilings
//   profile.svg   the share of a prefill and of a decode step each kernel takes
//   prefill.svg   prefill tokens/s by prompt length, f32 and f16 weights
//   decode.svg    decode tokens/s by context length, with the KV cache (f32, f16) and without it
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { BenchReport } from './harness.ts';

/** Labels long enough for kernel and step names; 20 colours, as a step has more than 10 kernels. */
const config = { axis: { labelLimit: 320 }, legend: { labelLimit: 240 }, range: { category: { scheme: 'tableau20' } } };

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile({ ...spec, config } as TopLevelSpec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Write the charts the report has data for; returns their file names. */
export async function writeCharts(r: BenchReport, dir: string): Promise<string[]> {
  const specs: [string, TopLevelSpec | undefined][] = [
    ['roofline.svg', roofline(r)],
    ['profile.svg', profile(r)],
    ['prefill.svg', prefill(r)],
    ['decode.svg', decode(r)],
  ];
  const written: string[] = [];
  for (const [file, spec] of specs) {
    if (!spec) continue;
    writeFileSync(join(dir, file), await render(spec));
    written.push(file);
  }
  return written;
}

const schema = 'https://vega.github.io/schema/vega-lite/v6.json';

function roofline(r: BenchReport): TopLevelSpec | undefined {
  const points = r.kernels
    .filter((k) => k.backend !== 'wasm' && k.gflopsPerS !== undefined && k.flops > 0 && k.bytes > 0) // this adapter's ceilings
    .map((k) => ({ intensity: k.flops / k.bytes, gflops: k.gflopsPerS!, kernel: k.version === '-' ? k.kernel : `${k.kernel} ${k.version}`, phase: k.phase, id: k.id }));
  const copy = r.ceilings.bandwidthGbPerS;
  const peak = r.ceilings.computeGflopsPerS;
  if (points.length === 0 || !copy || !peak) return undefined;
  const lo = Math.min(...points.map((p) => p.intensity)) / 2;
  const hi = Math.max(...points.map((p) => p.intensity)) * 2;
  const roof = Array.from({ length: 64 }, (_, i) => {
    const intensity = lo * (hi / lo) ** (i / 63);
    return { intensity, gflops: Math.min(peak, copy * intensity) };
  });
  return {
    $schema: schema,
    title: `Roofline: ${r.adapter.name} (copy ${copy.toFixed(0)} GB/s, best matmul ${peak.toFixed(1)} GFLOP/s)`,
    width: 640,
    height: 400,
    layer: [
      {
        data: { values: roof },
        mark: { type: 'line', color: '#888', strokeDash: [4, 3] },
        encoding: {
          x: { field: 'intensity', type: 'quantitative', scale: { type: 'log' }, title: 'arithmetic intensity (flop / byte)' },
          y: { field: 'gflops', type: 'quantitative', scale: { type: 'log' }, title: 'GFLOP/s' },
        },
      },
      {
        data: { values: points },
        mark: { type: 'point', filled: true, size: 50, opacity: 0.8 },
        encoding: {
          x: { field: 'intensity', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'gflops', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'kernel', type: 'nominal' },
          shape: { field: 'phase', type: 'nominal' },
          tooltip: [{ field: 'id' }, { field: 'gflops' }],
        },
      },
    ],
  };
}

function profile(r: BenchReport): TopLevelSpec | undefined {
  if (!r.profile) return undefined;
  const values = [r.profile.prefill, r.profile.decode].flatMap((step) =>
    step.byKernel.map((k) => ({ step: `${step.phase} (T ${step.T}, ${step.gpuMs.toFixed(2)} ms)`, kernel: k.label, share: k.share, ms: k.ms })),
  );
  return {
    $schema: schema,
    title: `Where a step's GPU time goes: ${r.profile.model}, ${r.profile.weights} weights, ${r.adapter.name}`,
    width: 640,
    height: 120,
    data: { values },
    mark: 'bar',
    encoding: {
      y: { field: 'step', type: 'nominal', title: null },
      x: { field: 'share', type: 'quantitative', stack: 'normalize', axis: { format: '%' }, title: 'share of the step' },
      color: { field: 'kernel', type: 'nominal', sort: { field: 'ms', op: 'sum', order: 'descending' } },
      order: { field: 'ms', type: 'quantitative', sort: 'descending' },
      tooltip: [{ field: 'kernel' }, { field: 'ms' }],
    },
  };
}

function prefill(r: BenchReport): TopLevelSpec | undefined {
  const values = (r.e2e?.formats ?? []).flatMap((f) => f.prefill.map((p) => ({ tokens: p.tokens, tokensPerS: p.tokensPerS, weights: f.weights })));
  if (values.length === 0) return undefined;
  return {
    $schema: schema,
    title: `Prefill throughput: ${r.e2e!.model}, ${r.adapter.name}`,
    width: 480,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'prompt tokens' },
      y: { field: 'tokensPerS', type: 'quantitative', title: 'tokens / s' },
      color: { field: 'weights', type: 'nominal' },
    },
  };
}

function decode(r: BenchReport): TopLevelSpec | undefined {
  const values = (r.e2e?.formats ?? []).flatMap((f) => [
    ...f.decode.map((d) => ({ context: d.tokens, tokensPerS: d.tokensPerS, series: `KV cache, ${f.weights}` })),
    ...(f.weights === 'f32' ? f.noCache.map((d) => ({ context: d.tokens, tokensPerS: d.tokensPerS, series: `no cache, ${f.weights}` })) : []),
  ]);
  if (values.length === 0) return undefined;
  return {
    $schema: schema,
    title: `Decode throughput: ${r.e2e!.model}, ${r.adapter.name}`,
    width: 480,
    height: 300,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'context', type: 'quantitative', scale: { type: 'log', base: 2 }, title: 'tokens of context' },
      y: { field: 'tokensPerS', type: 'quantitative', scale: { type: 'log' }, title: 'tokens / s' },
      color: { field: 'series', type: 'nominal' },
    },
  };
}
