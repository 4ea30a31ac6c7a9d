// kv-cache: what the KV cache saves. Generation time for growing numbers of new tokens, reading earlier positions
// from the cache (one token per step) against recomputing the whole sequence every step.
import { generate } from '../generate.ts';
import { encodePrompt, type LabContext, type LabResult } from './common.ts';
import { lines as lineChart } from './figures.ts';

export async function kvCacheLab(ctx: LabContext, prompt: string, lengths: number[]): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: 2, temperature: 0, stopAtEos: false }); // compile the pipelines first
  const data: { tokens: number; cache: boolean; mode: string; ms: number }[] = [];
  for (const n of lengths) {
    for (const useCache of [true, false]) {
      const t0 = performance.now();
      await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: n, temperature: 0, useCache, stopAtEos: false });
      data.push({ tokens: n, cache: useCache, mode: useCache ? 'with KV cache' : 'without (recompute all)', ms: performance.now() - t0 });
    }
  }
  const lines = [`${'new tokens'.padEnd(10)} ${'cache ms'.padStart(10)} ${'no cache ms'.padStart(12)}  speed-up`];
  for (const n of lengths) {
    const [w, wo] = [true, false].map((cache) => data.find((d) => d.tokens === n && d.cache === cache)!.ms) as [number, number];
    lines.push(`${String(n).padEnd(10)} ${w.toFixed(1).padStart(10)} ${wo.toFixed(1).padStart(12)}  ${(wo / w).toFixed(2)}x`);
  }
  return {
    lab: 'kv-cache',
    lines,
    figures: [
      {
        name: 'kv-cache',
        title: 'Generation time with and without the KV cache',
        spec: lineChart({ title: `Generation time from a ${ids.length}-token prompt, with and without the KV cache`, x: 'tokens', xTitle: 'new tokens generated', y: 'ms', yTitle: 'time (ms)', series: 'mode', seriesTitle: 'decoding', points: true }),
        data,
      },
    ],
    numbers: { prompt, lengths, adapter: ctx.model.gpu.info.name },
  };
}
