// Quantized weights on WebGPU: for each weight format (f32, f16, q8, q4), side by side in one process, the bytes of
// weights a model holds on the GPU and its decode speed, for the embedded model and the GPT-2 124M shape (random
// weights, as the bench's end-to-end runs build it); then the matmuls of GPT-2 124M's c_fc (one row, and a prefill
// of 64 rows) and LM head (one row) on each format and each version that reads it (v2 and matvec.v2 read any format
// through loadW; q and matvec.q read whole blocks).
//
//   npx tsx bench/webgpu-quant.ts [--quick] [--kernels] [--steps N]
//
// Each model is checked before it is timed: its logits after the context match the float64 CPU reference run on the
// same rounded (dequantized) parameters; each matmul is checked against matmulReference. Decode is timed by the wall
// clock around model.forward (one token, the default fused path, logits read back), the median of --steps steps.
// --quick runs the embedded model only; --kernels the matmuls only.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor, type Tensor } from '../src/gpu/buffers.ts';
import { getGpu, type Gpu } from '../src/gpu/device.ts';
import { Recorder } from '../src/gpu/recorder.ts';
import { packF16, roundToF16 } from '../src/half.ts';
import { Checker } from '../src/kernels/check.ts';
import { matmul, matmulReference, type MatmulVersion } from '../src/kernels/matmul.ts';
import { openCheckpoint } from '../src/loading/checkpoint.ts';
import { nodeModelFiles } from '../src/loading/files.ts';
import type { GPT2Config } from '../src/model/config.ts';
import { GPT2, readGPT2Params, roundGPT2Params, type GPT2Params } from '../src/model/gpt2.ts';
import { readModelConfig } from '../src/model/load.ts';
import type { WeightFormat } from '../src/model/model.ts';
import { randomGPT2Params } from '../src/model/random.ts';
import { roundQuantized } from '../src/quant.ts';
import { Rng } from '../src/random.ts';
import { gpt2ForwardReference } from '../src/reference/gpt2.ts';
import { defaultModelDir } from '../src/runtime.ts';
import { randomIds } from './e2e.ts';
import { gpt2Config, GPT2_124M } from './models.ts';
import { summarize } from './timing.ts';

const FORMATS: WeightFormat[] = ['f32', 'f16', 'q8', 'q4'];
/** Tokens of context before the timed decode steps. */
const CONTEXT = 8;
/** Logits after f32 arithmetic through the stack (as the model tests allow). */
const TOL = { rtol: 1e-3, atol: 1e-3 };

interface ModelRow {
  model: string;
  weights: WeightFormat;
  weightBytes: number;
  ofF32: number;
  decodeMs: number;
  tokensPerS: number;
}

async function embedded(): Promise<{ name: string; config: GPT2Config; params: GPT2Params } | undefined> {
  const dir = defaultModelDir();
  if (!existsSync(join(dir, 'model.safetensors'))) return undefined;
  const files = nodeModelFiles(dir);
  const config = await readModelConfig(files);
  if (config.arch !== 'gpt2') return undefined;
  return { name: 'embedded', config, params: readGPT2Params(await openCheckpoint(files), config) };
}

/** Load the model in each format, check its logits, time `steps` decode steps; the rows, in format order. */
async function measureModel(gpu: Gpu, name: string, config: GPT2Config, params: GPT2Params, steps: number): Promise<ModelRow[]> {
  const ids = randomIds(CONTEXT + steps, config.vocabSize, 3);
  const rows: ModelRow[] = [];
  for (const weights of FORMATS) {
    const model = new GPT2(gpu, config, params, weights);
    try {
      const { logits } = await model.forward(ids.slice(0, CONTEXT), 0);
      const reference = gpt2ForwardReference(roundGPT2Params(params, weights), ids.slice(0, CONTEXT));
      const checker = new Checker(TOL);
      checker.addAll(logits, reference.subarray((CONTEXT - 1) * config.vocabSize), 'logits');
      if (checker.result().failed !== 0) throw new Error(checker.summary(`${name} ${weights}`));
      const times: number[] = [];
      for (let t = CONTEXT; t < CONTEXT + steps; t++) {
        const t0 = performance.now();
        await model.forward([ids[t]!], t);
        times.push(performance.now() - t0);
      }
      const decodeMs = summarize(times).median;
      const weightBytes = model.gpuBytes().weights;
      rows.push({ model: name, weights, weightBytes, ofF32: weightBytes / (rows[0]?.weightBytes ?? weightBytes), decodeMs, tokensPerS: 1000 / decodeMs });
      console.error(`${name} ${weights}: ${(weightBytes / 2 ** 20).toFixed(1)} MiB of weights, decode ${decodeMs.toFixed(1)} ms`);
    } finally {
      model.destroy();
    }
  }
  return rows;
}

/** w [N, K] in `weights` on the GPU, and the values the GPU reads for it. */
function weightTensor(gpu: Gpu, weights: WeightFormat, w: Float32Array, N: number, K: number): { tensor: Tensor; values: Float32Array } {
  if (weights === 'f32') return { tensor: uploadTensor(gpu.device, 'f32', [N, K], w, 'w'), values: w };
  if (weights === 'f16') return { tensor: uploadTensor(gpu.device, 'f16x2', [N, K], packF16(w, K), 'w'), values: w.map(roundToF16) };
  return { tensor: uploadQuantized(gpu.device, weights, N, K, w, 'w'), values: roundQuantized(weights, w, N, K) };
}

/** a [M, K] against w [N, K]: checked, then timed as `reps` dispatches in one submission; ms per dispatch. */
async function timeMatmul(gpu: Gpu, weights: WeightFormat, version: MatmulVersion, M: number, N: number, K: number, reps: number): Promise<number> {
  const rng = new Rng(N + K);
  const a = Float32Array.from({ length: M * K }, () => rng.range(-1, 1));
  const w = Float32Array.from({ length: N * K }, () => rng.range(-0.1, 0.1));
  const { tensor, values } = weightTensor(gpu, weights, w, N, K);
  const at = uploadTensor(gpu.device, 'f32', [M, K], a, 'a');
  const out = createTensor(gpu.device, 'f32', [M, N], 'out');
  try {
    poison(gpu.device, out);
    const check = new Recorder(gpu);
    matmul(check, out, at, tensor, undefined, M, N, K, { version });
    await check.submit();
    const reference = new Float64Array(M * N);
    matmulReference(reference, a, values, undefined, M, N, K);
    const checker = new Checker({ rtol: 1e-4, atol: 1e-5 });
    checker.addAll(await readF32(gpu.device, out), reference, 'out');
    if (checker.result().failed !== 0) throw new Error(checker.summary(`matmul ${version} ${weights} [${M},${K}]x[${N},${K}]`));
    const rec = new Recorder(gpu);
    for (let r = 0; r < reps; r++) matmul(rec, out, at, tensor, undefined, M, N, K, { version });
    const t0 = performance.now();
    await rec.submit();
    await readF32(gpu.device, out, 1);
    return (performance.now() - t0) / reps;
  } finally {
    for (const t of [tensor, at, out]) t.buffer.destroy();
  }
}

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const kernelsOnly = args.includes('--kernels');
  const stepsAt = args.indexOf('--steps');
  const steps = stepsAt >= 0 ? Number(args[stepsAt + 1]) : quick ? 8 : 16;
  const gpu = await getGpu();
  console.log(`adapter: ${gpu.info.description || gpu.info.vendor} (${gpu.info.kind}); decode after ${CONTEXT} tokens, median of ${steps} steps`);

  if (!kernelsOnly) {
    const rows: ModelRow[] = [];
    const local = await embedded();
    if (local) rows.push(...(await measureModel(gpu, local.name, local.config, local.params, steps)));
    if (!quick) {
      const config = gpt2Config(GPT2_124M);
      rows.push(...(await measureModel(gpu, GPT2_124M.name, config, randomGPT2Params(config, 1, 0.02), steps)));
    }
    console.log(
      table(
        ['model', 'weights', 'weight bytes', 'of f32', 'decode ms', 'tok/s'],
        rows.map((r) => [r.model, r.weights, String(r.weightBytes), `${r.ofF32.toFixed(3)}x`, r.decodeMs.toFixed(1), r.tokensPerS.toFixed(2)]),
      ),
    );
  }

  if (quick) return;
  const { hidden: C, intermediate: I, vocab: V } = GPT2_124M;
  const shapes = [
    { op: 'c_fc', M: 1, N: I, K: C, reps: 20 },
    { op: 'c_fc', M: 64, N: I, K: C, reps: 4 },
    { op: 'lm_head', M: 1, N: V, K: C, reps: 4 },
  ];
  const kernelRows: string[][] = [];
  for (const { op, M, N, K, reps } of shapes) {
    for (const weights of FORMATS) {
      const quantized = weights === 'q8' || weights === 'q4';
      const versions: MatmulVersion[] = M === 1 ? (quantized ? ['matvec.v2', 'matvec.q'] : ['matvec.v2']) : quantized ? ['v2', 'q'] : ['v2'];
      for (const version of versions) {
        const ms = await timeMatmul(gpu, weights, version, M, N, K, reps);
        kernelRows.push([op, `[${M},${K}]x[${N},${K}]`, weights, version, ms.toFixed(2)]);
        console.error(`${op} ${weights} ${version}: ${ms.toFixed(2)} ms`);
      }
    }
  }
  console.log(table(['op', 'shape', 'weights', 'version', 'ms'], kernelRows));
}

await main();
process.exit(0);
