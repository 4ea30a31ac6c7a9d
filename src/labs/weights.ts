// weights: a heatmap of one weight matrix, e.g. block 0's W_q ([out, in]), read from the checkpoint and shown as the
// model computes with it: the floats under --weights f32, rounded to halves under f16, and under q8 and q4 the
// blocks quantized and dequantized (src/quant.ts, the function the backends load with). For q8 and q4 two more
// figures show the format: the step d of every block of 32, and one row's float weights beside the values its
// blocks hold. Large matrices are averaged over blocks of cells so the figure stays readable.
import { UserError } from '../errors.ts';
import { openCheckpoint } from '../loading/checkpoint.ts';
import { nodeModelFiles } from '../loading/files.ts';
import { readGPT2Params } from '../model/gpt2-params.ts';
import { llamaCheckpointSource } from '../model/llama-params.ts';
import { readModelConfig } from '../model/load.ts';
import { dequantize, isQuantFormat, QBLOCK, quantBlocks, quantize, quantScales, quantWords, roundWeights, type QuantFormat } from '../quant.ts';
import { checkLayer, dims, type LabContext, type LabResult } from './common.ts';
import type { Figure } from './figures.ts';
import type { TopLevelSpec } from 'vega-lite';

export const WEIGHT_MATRICES = ['q', 'k', 'v', 'o', 'up', 'down'] as const;
export type WeightMatrix = (typeof WEIGHT_MATRICES)[number];

/** Rows and columns shown at most; larger matrices are mean-pooled. */
const MAX_CELLS = 256;

/** Blocks of the row figure: the block holding the row's largest weight and its neighbours. */
const ROW_BLOCKS = 4;

/** What each quantized format stores per block of 32, as a learner reads it. */
const FORMAT_WORDS: Record<QuantFormat, string> = {
  q8: '32 int8 q and an f32 step d, x ~ d * q (q in -127..127, d = max|x| / 127)',
  q4: '32 uint4 q, an f16 step d and an f16 minimum m, x ~ m + d * q (q in 0..15, d = (max - min) / 15)',
};

export async function weightsLab(ctx: LabContext, layer: number, matrix: WeightMatrix): Promise<LabResult> {
  checkLayer(ctx, layer);
  if (!WEIGHT_MATRICES.includes(matrix)) throw new UserError(`--matrix must be one of ${WEIGHT_MATRICES.join(', ')}, got "${matrix}"`);
  const { weight: float, rows, cols, name } = await readMatrix(ctx, layer, matrix);
  const format = ctx.model.weightFormat;
  // the values the model computes with; q8 and q4 keep their packed words for the scales
  const quant = isQuantFormat(format) ? { format, packed: quantize(format, float, rows, cols) } : undefined;
  const weight = quant ? dequantize(quant.format, quant.packed, rows, cols) : roundWeights(format, float, cols);
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
  const held = format === 'f32' ? '' : format === 'f16' ? ' as f16 holds it' : ` as ${format} holds it (dequantized)`;
  const heads = headAxis ? ` Black lines separate the ${headCount} heads (${HS} ${headAxis === 'out' ? 'rows' : 'columns'} each).` : '';
  const result: LabResult = {
    lab: 'weights',
    lesson: quant
      ? [
          `Each cell is one weight as the model computes with it (${format} blocks dequantized), red positive and blue negative.${heads}`,
          `${format} stores each run of 32 weights along a row as small integers times one step d: in the steps figure, a block`,
          "with one large weight has a coarse step for all 32. In the row figure each float weight is within half a step of its block's level.",
        ]
      : [
          `Each cell is one weight${format === 'f32' ? '' : ` as the model computes with it (${format})`}, red positive and blue negative on a scale symmetric about 0.${heads}`,
          'Look for structure: whole rows or columns brighter than the rest (dimensions every head reads or writes), and heads',
          'that differ in scale. A trained matrix is not uniform noise.',
        ],
    lines: [`${name}: [${rows}, ${cols}] (out, in)${pooled}${held}; values from ${min.toFixed(3)} to ${max.toFixed(3)}`],
    figures: [
      {
        name: `weights-L${layer}-${matrix}`,
        title: `${name}`,
        spec: { title: `Block ${layer} W_${matrix}: ${name} [${rows} x ${cols}]${pooled}${held}`, width: size(Math.ceil(cols / pc)), height: size(Math.ceil(rows / pr)), layer: layers } as TopLevelSpec,
        data,
      },
    ],
    numbers: { matrix: name, rows, cols, pooled: [pr, pc], head_size: headAxis ? HS : null, heads_along: headAxis ?? null, weights: format },
  };
  if (format === 'f16') {
    const error = roundingError(float, weight);
    result.lines.push(`f16: each weight rounded to the nearest half; rounding error max ${error.max_abs.toExponential(2)}, RMS ${error.rms.toExponential(2)} (${pct(error.relative_rms)} of the weights' RMS)`);
    result.numbers!.error = error;
  }
  if (quant) showBlocks(result, quant.format, quant.packed, float, weight, rows, cols, layer, matrix, name);
  return result;
}

/** |rounded - float|: the largest, the RMS, and the RMS over the weights' own RMS. */
function roundingError(float: Float32Array, rounded: Float32Array): { max_abs: number; rms: number; relative_rms: number } {
  let [max, sq, ref] = [0, 0, 0];
  for (let i = 0; i < float.length; i++) {
    const e = rounded[i]! - float[i]!;
    max = Math.max(max, Math.abs(e));
    sq += e * e;
    ref += float[i]! * float[i]!;
  }
  return { max_abs: max, rms: Math.sqrt(sq / float.length), relative_rms: Math.sqrt(sq / ref) };
}

const pct = (x: number) => `${(100 * x).toPrecision(2)}%`;

/**
 * q8 and q4: what the format is (blocks of 32 along each row, integers and a step each), the step of every block as
 * a heatmap, how far the dequantized values are from the float ones, and one row's float weights beside the values
 * its blocks hold, around the row's largest weight.
 */
function showBlocks(result: LabResult, format: QuantFormat, packed: Uint32Array, float: Float32Array, weight: Float32Array, rows: number, cols: number, layer: number, matrix: WeightMatrix, name: string): void {
  const nb = quantBlocks(cols);
  const { d, m } = quantScales(format, packed, rows, cols);
  const sorted = Float32Array.from(d).sort();
  const median = sorted[sorted.length >> 1]!;
  // the worst error as a fraction of half its block's step: 1 at most, but for the f16 rounding of q4's d and m
  let worst = 0;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const step = d[r * nb + Math.floor(c / QBLOCK)]!;
      const e = Math.abs(weight[r * cols + c]! - float[r * cols + c]!);
      if (step > 0) worst = Math.max(worst, e / (step / 2));
    }
  }
  const error = roundingError(float, weight);
  // the row figure: the row holding the matrix's largest |weight|, which sets (q8) or widens (q4) its block's step
  let at = 0;
  for (let i = 1; i < float.length; i++) if (Math.abs(float[i]!) > Math.abs(float[at]!)) at = i;
  const row = Math.floor(at / cols);
  const block = Math.floor((at % cols) / QBLOCK);
  const first = Math.max(0, Math.min(nb - ROW_BLOCKS, block - 1));
  const last = Math.min(nb, first + ROW_BLOCKS);
  const bytes = (4 * quantWords(format, rows, cols)) / (rows * cols);
  const part = cols % QBLOCK ? ` (the last ${cols % QBLOCK} long, padded with zeros)` : '';
  result.lines.push(
    `${format}: each row of ${cols} is ${nb} block${nb === 1 ? '' : 's'} of 32${part}, each ${FORMAT_WORDS[format]}: ${bytes.toFixed(3)} bytes a weight, ${(bytes / 4).toFixed(3)}x f32`,
    `step d per block: from ${sorted[0]!.toExponential(2)} to ${sorted[sorted.length - 1]!.toExponential(2)}, median ${median.toExponential(2)}`,
    `rounding error (dequantized - float): max ${error.max_abs.toExponential(2)}, RMS ${error.rms.toExponential(2)} (${pct(error.relative_rms)} of the weights' RMS); the largest is ${worst.toFixed(2)} of half its block's step`,
    `row ${row} holds the largest weight, ${float[at]!.toFixed(4)} at input ${at % cols}: its block's step ${d[row * nb + block]!.toExponential(2)} is ${(d[row * nb + block]! / median).toFixed(1)}x the median`,
  );
  result.figures.push(stepsFigure(format, d, rows, nb, layer, matrix, name), rowFigure(format, float, weight, d, m, row, cols, first, last, layer, matrix, name));
  Object.assign(result.numbers!, {
    block: QBLOCK,
    blocks_per_row: nb,
    bytes_per_weight: bytes,
    step: { min: sorted[0]!, median, max: sorted[sorted.length - 1]! },
    error: { ...error, max_over_half_step: worst },
    row: { row, column: at % cols, weight: float[at]!, step: d[row * nb + block]!, first_block: first, last_block: last - 1 },
  });
}

/** The step d of every block, [rows, blocks], mean-pooled over rows when there are more than MAX_CELLS. */
function stepsFigure(format: QuantFormat, d: Float32Array, rows: number, nb: number, layer: number, matrix: WeightMatrix, name: string): Figure {
  const pr = Math.max(1, Math.ceil(rows / MAX_CELLS));
  const data: { out: number; out_end: number; block: number; block_end: number; step: number }[] = [];
  for (let r0 = 0; r0 < rows; r0 += pr) {
    const r1 = Math.min(rows, r0 + pr);
    for (let b = 0; b < nb; b++) {
      let sum = 0;
      for (let r = r0; r < r1; r++) sum += d[r * nb + b]!;
      data.push({ out: r0, out_end: r1, block: b, block_end: b + 1, step: sum / (r1 - r0) });
    }
  }
  const pooled = pr > 1 ? ` (mean over ${pr} rows)` : '';
  return {
    name: `weights-L${layer}-${matrix}-steps`,
    title: `${name}: ${format} step per block`,
    spec: {
      title: `Block ${layer} W_${matrix}: the step d of each ${format} block of 32${pooled}`,
      width: Math.min(640, Math.max(240, nb * 12)),
      height: Math.min(640, Math.max(240, Math.ceil(rows / pr) * 2)),
      mark: 'rect',
      encoding: {
        x: { field: 'block', type: 'quantitative', title: 'block b along the row (inputs 32b .. 32b + 31)', scale: { domain: [0, nb], nice: false }, axis: { format: 'd', tickMinStep: 1 } },
        x2: { field: 'block_end' },
        y: { field: 'out', type: 'quantitative', title: 'output dimension (row)', scale: { domain: [0, rows], nice: false, reverse: true } },
        y2: { field: 'out_end' },
        color: { field: 'step', type: 'quantitative', title: 'step d', scale: { scheme: 'viridis', domainMin: 0 } },
      },
    } as TopLevelSpec,
    data,
  };
}

/**
 * One row, blocks first .. last - 1: each float weight (a point) and the value its block holds (a tick), the
 * block edges as rules, and each block's levels (d * q, or m + d * q) as faint lines.
 */
function rowFigure(format: QuantFormat, float: Float32Array, weight: Float32Array, d: Float32Array, m: Float32Array | undefined, row: number, cols: number, first: number, last: number, layer: number, matrix: WeightMatrix, name: string): Figure {
  const nb = quantBlocks(cols);
  const held = `${format} (dequantized)`;
  const data: { in: number; value: number; series: string; error?: number }[] = [];
  for (let c = first * QBLOCK; c < Math.min(cols, last * QBLOCK); c++) {
    const [x, y] = [float[row * cols + c]!, weight[row * cols + c]!];
    data.push({ in: c, value: x, series: 'float (checkpoint)' }, { in: c, value: y, series: held, error: y - x });
  }
  const edges = Array.from({ length: last - first + 1 }, (_, i) => ({ at: Math.min(cols, (first + i) * QBLOCK) }));
  // the levels a block can hold, drawn across its 32 columns: every level for q4 (16), every 8th for q8 (255)
  const levels: { from: number; to: number; level: number }[] = [];
  for (let b = first; b < last; b++) {
    const [step, lo] = [d[row * nb + b]!, m?.[row * nb + b] ?? 0];
    const qs = format === 'q4' ? Array.from({ length: 16 }, (_, q) => q) : Array.from({ length: 33 }, (_, i) => 8 * i - 128).filter((q) => q >= -127 && q <= 127);
    for (const q of qs) levels.push({ from: b * QBLOCK, to: Math.min(cols, (b + 1) * QBLOCK), level: lo + step * q });
  }
  const values = data.map((p) => p.value);
  const [ymin, ymax] = [Math.min(...values), Math.max(...values)];
  const pad = 0.05 * (ymax - ymin || 1);
  const y = { type: 'quantitative', scale: { domain: [ymin - pad, ymax + pad], nice: false } };
  return {
    name: `weights-L${layer}-${matrix}-row`,
    title: `${name}: row ${row}, ${format} blocks ${first}..${last - 1}`,
    spec: {
      title: {
        text: `Block ${layer} W_${matrix}, row ${row}: float weights and the ${format} values their blocks hold (blocks ${first}..${last - 1})`,
        subtitle: `blue points: the float weights; red ticks: the ${format} values; grey: each block's levels${format === 'q8' ? ' (every 8th)' : ''}; black: block edges`,
      },
      width: 640,
      height: 300,
      layer: [
        { data: { values: levels.filter((l) => l.level >= ymin - pad && l.level <= ymax + pad) }, mark: { type: 'rule', color: '#dddddd', strokeWidth: 1 }, encoding: { x: { field: 'from', type: 'quantitative' }, x2: { field: 'to' }, y: { field: 'level', ...y } } },
        { data: { values: edges }, mark: { type: 'rule', color: 'black', strokeWidth: 1 }, encoding: { x: { field: 'at', type: 'quantitative' } } },
        // the float weights as points, the values the blocks hold as red ticks over them
        ...(['float (checkpoint)', held] as const).map((series, i) => ({
          transform: [{ filter: { field: 'series', equal: series } }],
          mark: i === 0 ? { type: 'point', filled: true, size: 28, color: '#4c78a8' } : { type: 'tick', orient: 'horizontal', thickness: 2, size: 9, color: '#e45756' },
          encoding: {
            x: { field: 'in', type: 'quantitative', title: 'input dimension', scale: { domain: [first * QBLOCK, Math.min(cols, last * QBLOCK)], nice: false }, axis: { grid: false } },
            y: { field: 'value', title: 'weight', ...y, axis: { grid: false } },
          },
        })),
      ],
    } as TopLevelSpec,
    data,
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
