// Micro-benchmark of loading quantized weights: quantize() (src/quant.ts) over every matrix of GPT-2 124M (random
// weights at GPT-2's initialisation scale: wte, wpe and the 48 linear layers, 124M values), per format, and the
// construction of the whole model on the WebAssembly backend with f32, q8 and q4 weights.
//
//   npx tsx bench/quantize.ts
//
// quantize() runs on one thread: its figure is the process's CPU time (median of 3), which a machine shared with
// other work changes less than the wall clock. The model's construction is wall time (median of 3).
import { getWasmDevice } from '../src/backend/device.ts';
import { GPT2 } from '../src/model/gpt2.ts';
import { randomGPT2Params } from '../src/model/random.ts';
import { quantize } from '../src/quant.ts';
import { GPT2_124M, gpt2Config } from './models.ts';
import { summarize } from './timing.ts';

const RUNS = 3;

function cpuMs(fn: () => void): number {
  const c0 = process.cpuUsage();
  fn();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

const config = gpt2Config(GPT2_124M);
const params = randomGPT2Params(config, 1, 0.02);
const C = config.nEmbd;
const matrices: [Float32Array, number][] = [[params.wte, C], [params.wpe, C]];
for (const b of params.h) for (const l of [b.attn.c_attn, b.attn.c_proj, b.mlp.c_fc, b.mlp.c_proj]) matrices.push([l.weight, l.in]);
const values = matrices.reduce((n, [w]) => n + w.length, 0);

console.log(`${GPT2_124M.source}: ${matrices.length} matrices, ${(values / 1e6).toFixed(1)}M values`);
for (const format of ['q8', 'q4'] as const) {
  const ms = summarize(Array.from({ length: RUNS }, () => cpuMs(() => matrices.forEach(([w, cols]) => quantize(format, w, w.length / cols, cols))))).median;
  console.log(`quantize ${format}: ${ms.toFixed(0)} ms CPU (${((ms * 1e6) / values).toFixed(1)} ns a value)`);
}
const device = await getWasmDevice();
for (const weights of ['f32', 'q8', 'q4'] as const) {
  const ms = summarize(
    Array.from({ length: RUNS }, () => {
      const t0 = performance.now();
      new GPT2(device, config, params, weights).destroy();
      return performance.now() - t0;
    }),
  ).median;
  console.log(`GPT2 on WebAssembly, ${weights} weights: constructed in ${ms.toFixed(0)} ms`);
}
process.exit(0); // the worker threads of the WebAssembly pool would keep the process alive
