// `wgpt bench`: kernel timings against this adapter's ceilings, a forward-pass profile and end-to-end throughput.
// The harness is bench/harness.ts; `npm run bench` runs this same command.
import { readFileSync } from 'node:fs';
import { compareReports, engineCounters, runBench, type BenchPart, type BenchReport } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';
import { DEVICE_OPTION, toDevice, toNumber } from './options.ts';

const PARTS: BenchPart[] = ['kernels', 'profile', 'e2e', 'peers'];
/**
 * Parts --only also takes: the decode engines alone (e2e includes them), for a model too big for the whole e2e;
 * the weight formats side by side on WebAssembly alone (e2e includes them too).
 */
const ONLY_PARTS: BenchPart[] = [...PARTS, 'engines', 'formats'];

export function registerBench(command: Command, run: Run): void {
  command
    .option('--quick', 'Tiny shapes and few repetitions (CI)')
    .option('--out <dir>', 'Folder for bench.json, bench.md and the SVG charts (default: bench/results/<date>-<adapter>)')
    .option('--model <name>', 'Model of the profile and end-to-end runs: embedded (default), gpt2-124m or smollm2-135m (random weights) or a folder')
    .option('--tokens <n>', 'Prompt length of the prefill kernel shapes and the profile (default 128)')
    .option('--context <n>', 'Context length of the decode kernel shapes and the profile (default 256)')
    .option('--filter <text>', 'Only kernel cases whose id contains this text, e.g. gpt2-124m/decode or /matvec/ (the ceilings always run)')
    .option('--backend <name>', 'Backend of the kernel cases: webgpu (the WGSL kernels), wasm (the WebAssembly ones) or both (default)')
    .option('--only <parts>', 'Comma-separated parts to run: kernels, profile, e2e, peers, engines (decode engines only), formats (weight formats on WebAssembly only)')
    .option(...DEVICE_OPTION)
    .option('--software', 'Skip hardware adapters and use SwiftShader')
    .option('--no-charts', 'Do not render the SVG charts')
    .option('--compare', 'Compare two reports instead of running: wgpt bench --compare A.json B.json')
    .example('npm run bench -- --quick')
    .example('wgpt bench --filter /decode/ --only kernels')
    .example('wgpt bench --model gpt2-124m --only engines --context 64')
    .example('wgpt bench --model gpt2-124m --only peers')
    .example('wgpt bench --only formats')
    .example('wgpt bench --model gpt2-124m --only kernels,peers --backend wasm --device wasm --filter wasm/gpt2-124m/decode')
    .example('wgpt bench --compare bench/results/before/bench.json bench/results/after/bench.json')
    .action(run(async (reports: string[], o: Record<string, any>) => {
      if (o.compare) {
        if (reports.length !== 2) throw new CliError(`--compare needs two bench.json files, got ${reports.length}`);
        process.stdout.write(compareReports(readReport(reports[0]!), readReport(reports[1]!), reports));
        return;
      }
      if (reports.length > 0) throw new CliError(`unexpected argument "${reports[0]}": to compare two reports add --compare`);
      const parts = o.only === undefined ? undefined : String(o.only).split(',').map((p) => p.trim());
      for (const p of parts ?? []) if (!ONLY_PARTS.includes(p as BenchPart)) throw new CliError(`--only takes ${ONLY_PARTS.join(', ')}; got "${p}"`);
      const backend = o.backend === undefined ? 'both' : String(o.backend);
      if (!['webgpu', 'wasm', 'both'].includes(backend)) throw new CliError(`--backend takes webgpu, wasm or both; got "${backend}"`);
      const { report, dir } = await runBench({
        quick: !!o.quick,
        out: o.out,
        model: o.model === undefined ? undefined : String(o.model),
        tokens: toNumber('tokens', o.tokens, { min: 1, integer: true }),
        context: toNumber('context', o.context, { min: 2, integer: true }),
        filter: o.filter === undefined ? undefined : String(o.filter),
        backends: backend === 'both' ? undefined : [backend as 'webgpu' | 'wasm'],
        parts: parts as BenchPart[] | undefined,
        adapter: o.software ? 'software' : 'auto',
        device: toDevice(o.device),
        charts: o.charts !== false,
      });
      process.stdout.write(`${summary(report)}\nreport: ${dir}/bench.md\n`);
      const invalid = report.kernels.filter((k) => !k.validation.valid);
      if (invalid.length) {
        process.stderr.write(`wgpt: ${invalid.length} kernel cases did not match their CPU reference: ${invalid.map((k) => k.id).join(', ')}\n`);
        return 1;
      }
    }));
}

function readReport(path: string): BenchReport {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new CliError(`cannot read ${path} as a bench report (${(e as Error).message}): give the bench.json of a run`);
  }
  if ((json as BenchReport)?.schema !== 'wgpt-bench/1') throw new CliError(`${path} is not a wgpt bench report (no "schema": "wgpt-bench/1")`);
  return json as BenchReport;
}

/** A few lines for the terminal: the ceilings and the targets. */
function summary(r: BenchReport): string {
  const lines = [`adapter: ${r.adapter.name}`];
  if (r.ceilings.bandwidthGbPerS) lines.push(`copy bandwidth: ${r.ceilings.bandwidthGbPerS.toFixed(2)} GB/s (${r.ceilings.bandwidthFrom})`);
  if (r.ceilings.computeGflopsPerS) lines.push(`best matmul: ${r.ceilings.computeGflopsPerS.toFixed(2)} GFLOP/s (${r.ceilings.computeFrom})`);
  const t = r.targets;
  if (t.tiledOverNaive.min !== undefined) lines.push(`tiled over naive matmul (prefill): min ${t.tiledOverNaive.min.toFixed(1)}x (goal ${t.tiledOverNaive.goal}x)`);
  if (t.kvCacheSpeedup.speedup !== undefined) lines.push(`KV cache speedup at ${t.kvCacheSpeedup.context} tokens: ${t.kvCacheSpeedup.speedup.toFixed(1)}x (goal ${t.kvCacheSpeedup.goal}x)`);
  if (t.matvecBandwidth.best !== undefined) lines.push(`decode matvec: up to ${(100 * t.matvecBandwidth.best).toFixed(0)}% of that bandwidth`);
  if (r.ceilings.cpuCopy) lines.push(`CPU copy bandwidth: ${r.ceilings.cpuCopy.gbPerS.toFixed(2)} GB/s`);
  const streamed = t.wasmMatvecBandwidth?.streamed;
  if (streamed) lines.push(`WebAssembly decode matvec, ${streamed.model} ${streamed.op} ${streamed.version} (weights from memory): ${(100 * streamed.fractionOfCopy).toFixed(0)}% of that bandwidth (goal ${(100 * t.wasmMatvecBandwidth.goal).toFixed(0)}%)`);
  if (t.wasmThreadSpeedup?.min !== undefined) lines.push(`WebAssembly matvec and matmul on ${t.wasmThreadSpeedup.threads} threads over 1: ${t.wasmThreadSpeedup.min.toFixed(2)}x to ${t.wasmThreadSpeedup.max!.toFixed(2)}x`);
  const f32 = r.e2e?.formats.find((f) => f.weights === 'f32');
  for (const e of f32?.engines ?? []) {
    lines.push(`decode (${r.e2e!.model}), ${e.engine}, ${e.sampling}: ${e.tokensPerS.toFixed(1)} tok/s${engineCounters(e)}`);
  }
  const valid = r.kernels.filter((k) => k.validation.valid).length;
  if (r.kernels.length) lines.push(`kernel cases: ${valid} of ${r.kernels.length} match their CPU reference`);
  return lines.join('\n');
}
