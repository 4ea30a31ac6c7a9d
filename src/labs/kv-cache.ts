// kv-cache: what the KV cache saves. The cost of one generation step at growing sequence lengths S: with the cache
// the step runs the one new token and reads the S - 1 earlier keys and values; without it the step recomputes all
// S positions. Each step is timed several times; the figure shows the median and the spread (min to max).
import { UserError } from '../errors.ts';
import { encodePrompt, tooSmall, type LabContext, type LabResult } from './common.ts';
import { lines as lineChart } from './figures.ts';

export async function kvCacheLab(ctx: LabContext, prompt: string, lengths: number[], repeats = 5): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  for (const S of lengths) {
    if (!(Number.isInteger(S) && S >= 2 && S <= ctx.model.nCtx)) throw new UserError(`--lengths: ${S} is out of range: each length must be 2..${ctx.model.nCtx} (the model's context)`);
  }
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new UserError(`repeats must be a positive integer, got ${repeats}`);
  // a sequence of the longest length: the prompt repeated
  const longest = Math.max(...lengths);
  const seq = Array.from({ length: longest }, (_, i) => ids[i % ids.length]!);
  await ctx.model.forward(seq.slice(0, 2), 0); // compile the pipelines first

  const time = async (f: () => Promise<unknown>) => {
    const t0 = performance.now();
    await f();
    return performance.now() - t0;
  };
  const data: { length: number; mode: string; median_ms: number; min_ms: number; max_ms: number; runs_ms: number[] }[] = [];
  for (const S of lengths) {
    const cached: number[] = [];
    const full: number[] = [];
    for (let r = 0; r < repeats; r++) {
      // with the cache: positions 0..S-2 are in the cache (prefilled, not timed); the step runs position S-1
      await ctx.model.forward(seq.slice(0, S - 1), 0);
      cached.push(await time(() => ctx.model.forward([seq[S - 1]!], S - 1)));
      // without: the step recomputes all S positions
      full.push(await time(() => ctx.model.forward(seq.slice(0, S), 0)));
    }
    data.push({ length: S, mode: 'with KV cache (1 new token)', ...stats(cached) });
    data.push({ length: S, mode: 'without (recompute all S)', ...stats(full) });
  }
  const at = (S: number, cache: boolean) => data.find((d) => d.length === S && d.mode.startsWith(cache ? 'with' : 'without'))!;
  const lines = [`one step at sequence length S, median of ${repeats} (min..max) ms`, `${'S'.padStart(5)} ${'with cache'.padStart(22)} ${'without'.padStart(22)}  speed-up`];
  for (const S of lengths) {
    const [w, wo] = [at(S, true), at(S, false)];
    const cell = (d: typeof w) => `${d.median_ms.toFixed(1)} (${d.min_ms.toFixed(1)}..${d.max_ms.toFixed(1)})`;
    lines.push(`${String(S).padStart(5)} ${cell(w).padStart(22)} ${cell(wo).padStart(22)}  ${(wo.median_ms / w.median_ms).toFixed(2)}x`);
  }
  const speedup = at(longest, false).median_ms / at(longest, true).median_ms;
  return {
    lab: 'kv-cache',
    lesson: [
      'With the cache a step costs about the same at every length (one token through the model, plus reading S keys);',
      'without it, every step recomputes the whole sequence and its cost grows with S. Look at how the gap widens.',
    ],
    tooSmall: speedup < 2
      ? tooSmall(ctx, `a step is mostly fixed cost (dispatches, reading the logits back), so the gap stays small at ${longest} tokens (try --lengths 16,64,128,256)`, 'kv-cache', '--lengths 16,64,128,256')
      : undefined,
    lines,
    figures: [
      {
        name: 'kv-cache',
        title: 'The cost of one step with and without the KV cache',
        spec: lineChart({
          title: `One generation step against sequence length: median of ${repeats}, bars min..max`,
          x: 'length', xTitle: 'sequence length S (tokens)', y: 'median_ms', yTitle: 'time per step (ms)', series: 'mode', seriesTitle: 'decoding',
          points: true, errorBars: { low: 'min_ms', high: 'max_ms' }, yScale: { domainMin: 0 },
        }),
        data,
      },
    ],
    numbers: { prompt, lengths, repeats, adapter: ctx.model.gpu.info.name },
  };
}

function stats(runs: number[]) {
  const sorted = [...runs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median_ms: median, min_ms: sorted[0]!, max_ms: sorted[sorted.length - 1]!, runs_ms: runs };
}
