// weights: a heatmap of one weight matrix, e.g. block 0's W_q, read from the checkpoint as the model stores it
// ([out, in]). Large matrices are averaged over blocks of cells so the figure stays readable.
import { UserError } from '../errors.ts';
import { openCheckpoint } from '../loading/checkpoint.ts';
import { nodeModelFiles } from '../loading/files.ts';
import { readGPT2Params } from '../model/gpt2-params.ts';
import { llamaCheckpointSource } from '../model/llama-params.ts';
import { readModelConfig } from '../model/load.ts';
import { checkLayer, dims, type LabContext, type LabResult } from './common.ts';
import { heatmap } from './figures.ts';

export const WEIGHT_MATRICES = ['q', 'k', 'v', 'o', 'up', 'down'] as const;
export type WeightMatrix = (typeof WEIGHT_MATRICES)[number];

/** Rows and columns shown at most; larger matrices are mean-pooled. */
const MAX_CELLS = 64;

export async function weightsLab(ctx: LabContext, layer: number, matrix: WeightMatrix): Promise<LabResult> {
  checkLayer(ctx, layer);
  if (!WEIGHT_MATRICES.includes(matrix)) throw new UserError(`--matrix must be one of ${WEIGHT_MATRICES.join(', ')}, got "${matrix}"`);
  const { weight, rows, cols, name } = await readMatrix(ctx, layer, matrix);
  const pool = (n: number) => Math.max(1, Math.ceil(n / MAX_CELLS));
  const [pr, pc] = [pool(rows), pool(cols)];
  const data: Record<string, unknown>[] = [];
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
      data.push({ out: r0, in: c0, value });
    }
  }
  const pooled = pr > 1 || pc > 1 ? ` (mean over ${pr}x${pc} blocks)` : '';
  return {
    lab: 'weights',
    lines: [`${name}: [${rows}, ${cols}] (out, in)${pooled}; values from ${min.toFixed(3)} to ${max.toFixed(3)}`],
    figures: [
      {
        name: `weights-L${layer}-${matrix}`,
        title: `${name}`,
        spec: heatmap({ title: `Block ${layer} W_${matrix}: ${name} [${rows} x ${cols}]${pooled}`, x: 'in', y: 'out', xTitle: 'input dimension', yTitle: 'output dimension', value: 'value', valueTitle: 'weight', diverging: true, cell: Math.max(4, Math.floor(360 / Math.ceil(cols / pc))) }),
        data,
      },
    ],
    numbers: { matrix: name, rows, cols, pooled: [pr, pc] },
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
