// weights: a heatmap of one weight matrix, e.g. block 0's W_q, read from the checkpoint as the model stores it
// ([out, in]). Large matrices are averaged over blocks of cells so the figure stays readable.
import { UserError } from '../errors.ts';
import { openCheckpoint } from '../loading/checkpoint.ts';
import { nodeModelFiles } from '../loading/files.ts';
import { readGPT2Params } from '../model/gpt2-params.ts';
import { llamaCheckpointSource } from '../model/llama-params.ts';
import { readModelConfig } from '../model/load.ts';
import { checkLayer, dims, type LabContext, type LabResult } from './common.ts';
import type { TopLevelSpec } from 'vega-lite';

export const WEIGHT_MATRICES = ['q', 'k', 'v', 'o', 'up', 'down'] as const;
export type WeightMatrix = (typeof WEIGHT_MATRICES)[number];

/** Rows and columns shown at most; larger matrices are mean-pooled. */
const MAX_CELLS = 256;

export async function weightsLab(ctx: LabContext, layer: number, matrix: WeightMatrix): Promise<LabResult> {
  checkLayer(ctx, layer);
  if (!WEIGHT_MATRICES.includes(matrix)) throw new UserError(`--matrix must be one of ${WEIGHT_MATRICES.join(', ')}, got "${matrix}"`);
  const { weight, rows, cols, name } = await readMatrix(ctx, layer, matrix);
  const pool = (n: number) => Math.max(1, Math.ceil(n / MAX_CELLS));
  const [pr, pc] = [pool(rows), pool(cols)];
  const data: { out: number; out_end: number; in: number; in_end: number; value: number }[] = [];
  let min = Infinity;
  let max = -Infinity;
  for (let r0 = 0; r0 < rows; r0 += pr) {
    for (let c0 = 0; c0 < cols; c0 += pc) {
      let sum = 0;
      let n = 0;
      for (let r = r0; r < Math.min(rows, r0 + pr); r++) for (let c = c0; c < Math.min(cols, c0 + pc); c++, n++) sum += weight[r * cols + c]!;
      const value = sum / n;
      min = Math.min(min, value);
      max = Math.max(max, value);
      data.push({ out: r0, out_end: Math.min(rows, r0 + pr), in: c0, in_end: Math.min(cols, c0 + pc), value });
    }
  }
  // heads: the output rows of q, k, v are heads of HS side by side; so are the input columns of the output projection
  const { HS } = dims(ctx);
  const headAxis = matrix === 'q' || matrix === 'k' || matrix === 'v' ? 'out' : matrix === 'o' ? 'in' : undefined;
  const headCount = headAxis ? (headAxis === 'out' ? rows : cols) / HS : 0;
  const pooled = pr > 1 || pc > 1 ? ` (mean over ${pr}x${pc} blocks)` : '';
  const bound = Math.max(Math.abs(min), Math.abs(max));
  const size = (n: number) => Math.min(640, Math.max(240, n * (n <= 128 ? 3 : 2)));
  const layers: any[] = [
    {
      mark: 'rect',
      encoding: {
        x: { field: 'in', type: 'quantitative', title: 'input dimension', scale: { domain: [0, cols], nice: false }, axis: { tickCount: 8 } },
        x2: { field: 'in_end' },
        y: { field: 'out', type: 'quantitative', title: 'output dimension', scale: { domain: [0, rows], nice: false, reverse: true }, axis: { tickCount: 8 } },
        y2: { field: 'out_end' },
        color: { field: 'value', type: 'quantitative', title: 'weight', scale: { scheme: 'redblue', reverse: true, domain: [-bound, bound] } },
      },
    },
  ];
  if (headAxis) {
    const boundaries = Array.from({ length: headCount - 1 }, (_, h) => ({ at: (h + 1) * HS }));
    layers.push({ data: { values: boundaries }, mark: { type: 'rule', color: 'black', strokeWidth: 1 }, encoding: headAxis === 'out' ? { y: { field: 'at', type: 'quantitative' } } : { x: { field: 'at', type: 'quantitative' } } });
  }
  return {
    lab: 'weights',
    lesson: [
      `Each cell is one weight, red positive and blue negative on a scale symmetric about 0.${headAxis ? ` Black lines separate the ${headCount} heads (${HS} ${headAxis === 'out' ? 'rows' : 'columns'} each).` : ''}`,
      'Look for structure: whole rows or columns brighter than the rest (dimensions every head reads or writes), and heads',
      'that differ in scale. A trained matrix is not uniform noise.',
    ],
    lines: [`${name}: [${rows}, ${cols}] (out, in)${pooled}; values from ${min.toFixed(3)} to ${max.toFixed(3)}`],
    figures: [
      {
        name: `weights-L${layer}-${matrix}`,
        title: `${name}`,
        spec: { title: `Block ${layer} W_${matrix}: ${name} [${rows} x ${cols}]${pooled}`, width: size(Math.ceil(cols / pc)), height: size(Math.ceil(rows / pr)), layer: layers } as TopLevelSpec,
        data,
      },
    ],
    numbers: { matrix: name, rows, cols, pooled: [pr, pc], head_size: headAxis ? HS : null, heads_along: headAxis ?? null },
  };
}

async function readMatrix(ctx: LabContext, layer: number, matrix: WeightMatrix): Promise<{ weight: Float32Array; rows: number; cols: number; name: string }> {
  const files = nodeModelFiles(ctx.modelDir);
  const config = await readModelConfig(files);
  const checkpoint = await openCheckpoint(files);
  const d = dims(ctx);
  const rowsOf = (w: Float32Array, from: number, count: number, cols: number) => ({ weight: w.subarray(from * cols, (from + count) * cols), rows: count, cols });
  if (config.arch === 'gpt2') {
    const b = readGPT2Params(checkpoint, config).h[layer]!;
    const C = d.C;
    switch (matrix) {
      case 'q': case 'k': case 'v':
        return { ...rowsOf(b.attn.c_attn.weight, 'qkv'.indexOf(matrix) * C, C, C), name: `h.${layer}.attn.c_attn (${matrix} rows)` };
      case 'o': return { weight: b.attn.c_proj.weight, rows: C, cols: C, name: `h.${layer}.attn.c_proj` };
      case 'up': return { weight: b.mlp.c_fc.weight, rows: d.I, cols: C, name: `h.${layer}.mlp.c_fc` };
      case 'down': return { weight: b.mlp.c_proj.weight, rows: C, cols: d.I, name: `h.${layer}.mlp.c_proj` };
    }
  }
  const b = llamaCheckpointSource(checkpoint, config).layer(layer);
  const { C, NH, NKV, HS, I } = d;
  switch (matrix) {
    case 'q': return { ...rowsOf(b.self_attn.qkv_proj.weight, 0, NH * HS, C), name: `layers.${layer}.self_attn.q_proj` };
    case 'k': return { ...rowsOf(b.self_attn.qkv_proj.weight, NH * HS, NKV * HS, C), name: `layers.${layer}.self_attn.k_proj` };
    case 'v': return { ...rowsOf(b.self_attn.qkv_proj.weight, (NH + NKV) * HS, NKV * HS, C), name: `layers.${layer}.self_attn.v_proj` };
    case 'o': return { weight: b.self_attn.o_proj.weight, rows: C, cols: NH * HS, name: `layers.${layer}.self_attn.o_proj` };
    case 'up': return { ...rowsOf(b.mlp.gate_up_proj.weight, I, I, C), name: `layers.${layer}.mlp.up_proj` };
    case 'down': return { weight: b.mlp.down_proj.weight, rows: C, cols: I, name: `layers.${layer}.mlp.down_proj` };
  }
}
