// The weights lab shows a matrix as the model computes with it. Under --weights q8 and q4 its heatmap holds the
// values the WebAssembly backend holds for that matrix (read back from the loaded model), bit for bit, which are
// dequantize(quantize(w)) of the checkpoint's floats, not the floats themselves; every value is within half its
// block's step of the float one; the steps figure holds each block's d as defined (q8: max|x| / 127 in f32), and
// the row figure's values sit on their block's levels. f32 shows the floats, f16 the floats rounded to halves.
import { afterAll, describe, expect, it } from 'vitest';
import type { WasmBackend } from '../../src/backend/wasm.ts';
import { roundToF16 } from '../../src/half.ts';
import * as labs from '../../src/labs/index.ts';
import type { LabContext } from '../../src/labs/index.ts';
import { openCheckpoint } from '../../src/loading/checkpoint.ts';
import { nodeModelFiles } from '../../src/loading/files.ts';
import type { GPT2Block } from '../../src/model/gpt2.ts';
import { readGPT2Params } from '../../src/model/gpt2-params.ts';
import { readModelConfig } from '../../src/model/load.ts';
import type { GPT2Config } from '../../src/model/config.ts';
import type { WeightFormat } from '../../src/model/model.ts';
import type { TransformerWeights } from '../../src/model/transformer.ts';
import { dequantize, QBLOCK, quantize } from '../../src/quant.ts';
import { defaultModelDir, openModel } from '../../src/runtime.ts';

const opened: LabContext[] = [];
afterAll(() => opened.forEach((ctx) => ctx.model.destroy()));

async function context(weights: WeightFormat): Promise<LabContext> {
  const { model, tokenizer } = await openModel(undefined, { device: 'wasm', weights });
  const ctx = { model, tokenizer, modelDir: defaultModelDir(), embedded: true };
  opened.push(ctx);
  return ctx;
}

/** Block 1's c_proj ([C, C], the `o` matrix) from the checkpoint, as floats. */
async function floats(): Promise<Float32Array> {
  const files = nodeModelFiles(defaultModelDir());
  const config = (await readModelConfig(files)) as GPT2Config;
  return readGPT2Params(await openCheckpoint(files), config).h[1]!.attn.c_proj.weight;
}

/** The same matrix as the loaded model holds it, read back from the WebAssembly backend. */
function held(ctx: LabContext): Float32Array {
  const model = ctx.model as unknown as { backend: WasmBackend; weights: TransformerWeights<GPT2Block> };
  return model.backend.weightValues(model.weights.blocks[1]!.attn.c_proj as Parameters<WasmBackend['weightValues']>[0]);
}

/** The heatmap's cells (unpooled on the embedded model) as a row-major matrix. */
function heatmap(r: labs.LabResult, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols).fill(Number.NaN);
  for (const cell of r.figures[0]!.data as { out: number; in: number; value: number }[]) out[cell.out * cols + cell.in] = cell.value;
  return out;
}

describe('the weights lab shows what the model computes with', () => {
  it.each(['q8', 'q4'] as const)('%s: the dequantized blocks the model holds, each within half a step of the float weight', async (format) => {
    const ctx = await context(format);
    const r = await labs.weightsLab(ctx, 1, 'o');
    const { rows, cols } = r.numbers as { rows: number; cols: number };
    const float = await floats();
    const shown = heatmap(r, rows, cols);
    const packed = quantize(format, float, rows, cols);
    expect(Array.from(shown)).toEqual(Array.from(held(ctx)));
    expect(Array.from(shown)).toEqual(Array.from(dequantize(format, packed, rows, cols)));
    // not the checkpoint's floats: most values moved
    expect(shown.filter((v, i) => v !== float[i]).length).toBeGreaterThan(0.9 * float.length);

    // the steps figure: one d per block; q8's is max|x| / 127 rounded to f32, by definition
    const steps = r.figures.find((f) => f.name === 'weights-L1-o-steps')!.data as { out: number; block: number; step: number }[];
    const nb = cols / QBLOCK;
    expect(steps.length).toBe(rows * nb);
    const d = new Float32Array(rows * nb);
    for (const s of steps) d[s.out * nb + s.block] = s.step;
    for (let r0 = 0; r0 < rows; r0++) {
      for (let c = 0; c < cols; c++) {
        const step = d[r0 * nb + Math.floor(c / QBLOCK)]!;
        expect(step).toBeGreaterThan(0);
        // q4's d and m are f16: the range is rounded by up to 2^-11 of 15 steps and of the minimum
        const slack = format === 'q8' ? 1e-6 * step : 2 ** -11 * (15 * step + 0.2);
        expect(Math.abs(shown[r0 * cols + c]! - float[r0 * cols + c]!)).toBeLessThanOrEqual(step / 2 + slack);
      }
      if (format === 'q8') {
        for (let b = 0; b < nb; b++) {
          const block = float.subarray(r0 * cols + b * QBLOCK, r0 * cols + (b + 1) * QBLOCK);
          expect(d[r0 * nb + b]).toBe(Math.fround(Math.max(...Array.from(block, Math.abs)) / 127));
        }
      }
    }
    const n = r.numbers as { error: { max_abs: number; max_over_half_step: number }; blocks_per_row: number; bytes_per_weight: number; row: { row: number; column: number; weight: number } };
    expect(n.blocks_per_row).toBe(nb);
    expect(n.bytes_per_weight).toBe(format === 'q8' ? 36 / 32 : 20 / 32);
    expect(n.error.max_abs).toBe(Math.max(...Array.from(shown, (v, i) => Math.abs(v - float[i]!))));
    expect(n.error.max_over_half_step).toBeLessThanOrEqual(format === 'q8' ? 1 + 1e-6 : 1.01);

    // the row figure: the row of the largest |weight|, each value a level of its block (d * q, or m + d * q)
    const largest = Math.max(...Array.from(float, Math.abs));
    expect(Math.abs(n.row.weight)).toBe(largest);
    expect(Math.abs(float[n.row.row * cols + n.row.column]!)).toBe(largest);
    const points = r.figures.find((f) => f.name === 'weights-L1-o-row')!.data as { in: number; value: number; series: string }[];
    const values = points.filter((p) => p.series === `${format} (dequantized)`);
    expect(values.length).toBe(Math.min(4, nb) * QBLOCK);
    expect(values.some((p) => p.in === n.row.column)).toBe(true);
    for (const p of values) {
      expect(p.value).toBe(shown[n.row.row * cols + p.in]);
      expect(points.find((f) => f.series === 'float (checkpoint)' && f.in === p.in)!.value).toBe(float[n.row.row * cols + p.in]);
    }
    expect(r.lines.join('\n')).toContain(`${format}: each row of ${cols} is ${nb} blocks of 32`);
  }, 120_000);

  it('f32 shows the checkpoint floats and f16 the floats rounded to halves, with no block figures', async () => {
    const float = await floats();
    for (const format of ['f32', 'f16'] as const) {
      const ctx = await context(format);
      const r = await labs.weightsLab(ctx, 1, 'o');
      const { rows, cols } = r.numbers as { rows: number; cols: number };
      const shown = heatmap(r, rows, cols);
      expect(Array.from(shown)).toEqual(Array.from(held(ctx)));
      expect(Array.from(shown)).toEqual(Array.from(format === 'f32' ? float : float.map(roundToF16)));
      expect(r.figures.map((f) => f.name)).toEqual(['weights-L1-o']);
    }
  }, 120_000);
});
