// The bench report as Markdown, and the comparison of two reports (`wgpt bench --compare A.json B.json`).
import type { BenchReport, KernelResult } from './harness.ts';
import type { PeerRun, PeersReport } from './peers.ts';
import type { DecodeEngine, StepProfile } from './e2e.ts';

/** ", 51 dispatches, 76 bytes read back a token" where the engine counted them (WebGPU), else nothing. */
export function engineCounters(e: DecodeEngine): string {
  return e.dispatchesPerToken === undefined ? '' : `, ${e.dispatchesPerToken} dispatches, ${e.readbackBytesPerToken} bytes read back a token`;
}

/** Milliseconds with about four significant digits. */
function ms(x: number | undefined): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(1) : x >= 1 ? x.toFixed(3) : x.toPrecision(3);
}

function num(x: number | undefined, digits = 3): string {
  if (x === undefined || !Number.isFinite(x)) return '-';
  return x >= 10 ** digits ? x.toFixed(0) : x.toPrecision(digits);
}

function pct(x: number | undefined): string {
  return x === undefined || !Number.isFinite(x) ? '-' : `${x.toFixed(x < 10 ? 1 : 0)}%`;
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

function table(header: string[], rows: string[][]): string[] {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

export function toMarkdown(r: BenchReport): string {
  const out: string[] = [];
  out.push(`# wgpt bench: ${r.adapter.name}`, '');
  out.push(
    `- adapter: ${r.adapter.name} (${r.adapter.kind}; ${r.adapter.reason}); timing: ${r.adapter.timestamps ? 'timestamp-query' : 'wall clock'}`,
    `- features: ${r.adapter.features.join(', ') || '-'}`,
    `- commit: ${r.git.commit}${r.git.dirty ? ' (with uncommitted changes)' : ''}; ${r.date}; ${r.quick ? 'quick mode; ' : ''}took ${r.durationS.toFixed(0)} s`,
    `- host: ${r.host.platform}, Node ${r.host.node}, ${r.host.cpus} CPUs (${r.host.cpuModel}), load average ${r.host.loadavg.map((l) => l.toFixed(2)).join(' ')}`,
    `- kernel shapes: prefill ${r.options.tokens} tokens, decode at context ${r.options.context} (each clipped to the model's context); models: ${r.models.map((m) => `${m.name} (${m.source})`).join('; ')}`,
    '',
  );

  out.push('## Ceilings', '');
  const copy = r.ceilings.copy;
  const kernelCopy = r.ceilings.kernelCopy;
  if (r.ceilings.bandwidthGbPerS) out.push(`- memory: **${num(r.ceilings.bandwidthGbPerS)} GB/s** (read + write), the faster of two copies of ${mib(copy?.bytes ?? 0)}:`);
  if (copy) out.push(`  - copyBufferToBuffer: ${num(copy.gbPerS)} GB/s (${copy.method}; p10-p90 ${ms(copy.p10)}-${ms(copy.p90)} ms per copy)`);
  if (kernelCopy) out.push(`  - copy kernel: ${num(kernelCopy.gbPerS)} GB/s (${kernelCopy.method}; p10-p90 ${ms(kernelCopy.p10)}-${ms(kernelCopy.p90)} ms per copy)`);
  if (r.ceilings.computeGflopsPerS) out.push(`- arithmetic: **${num(r.ceilings.computeGflopsPerS)} GFLOP/s**, the best matmul (${r.ceilings.computeFrom})`);
  const cpu = r.ceilings.cpuCopy;
  if (cpu) out.push(`- CPU memory (the WebAssembly kernels' ceiling): **${num(cpu.gbPerS)} GB/s** (read + write; ${cpu.method}; p10-p90 ${ms(cpu.p10)}-${ms(cpu.p90)} ms per copy)`);
  if (r.ceilings.cpuComputeGflopsPerS) out.push(`- CPU arithmetic: **${num(r.ceilings.cpuComputeGflopsPerS)} GFLOP/s**, the best WebAssembly matmul (${r.ceilings.cpuComputeFrom})`);
  out.push('');

  out.push('## Targets (reported, not asserted)', '');
  const t = r.targets;
  if (t.tiledOverNaive.min !== undefined) {
    const list = t.tiledOverNaive.cases.map((c) => `${c.model} ${c.op} ${c.weights} ${c.speedup.toFixed(1)}x`).join(', ');
    out.push(`- tiled (v2) over naive (v1) matmul on prefill shapes, goal >= ${t.tiledOverNaive.goal}x: min **${t.tiledOverNaive.min.toFixed(1)}x** (${t.tiledOverNaive.met ? 'met' : 'not met'}): ${list}`);
  }
  if (t.kvCacheSpeedup.speedup !== undefined) {
    out.push(`- KV-cache decode speedup at ${t.kvCacheSpeedup.context} tokens of context, goal >= ${t.kvCacheSpeedup.goal}x: **${t.kvCacheSpeedup.speedup.toFixed(1)}x** (${t.kvCacheSpeedup.met ? 'met' : 'not met'})`);
  }
  if (t.matvecBandwidth.best !== undefined) {
    const list = t.matvecBandwidth.cases.map((c) => `${c.model} ${c.op} ${c.weights} ${pct(100 * c.fractionOfCopy)}`).join(', ');
    out.push(`- decode matvec bandwidth as a fraction of the memory ceiling: best **${pct(100 * t.matvecBandwidth.best)}**: ${list}`);
  }
  const wm = t.wasmMatvecBandwidth;
  if (wm?.best !== undefined) {
    const list = wm.cases.map((c) => `${c.model} ${c.op} ${c.version} ${pct(100 * c.fractionOfCopy)}`).join(', ');
    const streamed = wm.streamed ? `${wm.streamed.model} ${wm.streamed.op} ${wm.streamed.version} (its weights read from memory) **${pct(100 * wm.streamed.fractionOfCopy)}**; ` : '';
    out.push(`- WebAssembly decode matvec (${wm.cases[0]!.threads} threads) as a fraction of the CPU copy, goal >= ${pct(100 * wm.goal)}: ${streamed}best ${pct(100 * wm.best)}: ${list}`);
  }
  const ws = t.wasmThreadSpeedup;
  if (ws?.min !== undefined) {
    const list = ws.cases.map((c) => `${c.id.replace(/^wasm\//, '')} ${c.speedup.toFixed(2)}x`).join(', ');
    out.push(`- WebAssembly matvec and matmul, ${ws.threads} threads over 1: **${ws.min.toFixed(2)}x to ${ws.max!.toFixed(2)}x**: ${list}`);
  }
  out.push('');

  if (r.kernels.length) {
    out.push('## Kernels', '');
    out.push(
      'Each case was checked against its CPU reference before it was timed. Times are medians (p10-p90) of many samples; % of the ceilings above.',
      'A sample repeats the dispatch back to back, so operands that fit in the GPU\'s caches are read warm: such cases can pass 100% of the copy bandwidth.',
      'The WebAssembly cases (backend wasm) are timed by the wall clock, against the CPU\'s ceilings; the threaded ones on 1 thread and on all of them.',
      '',
    );
    const groups = new Map<string, KernelResult[]>();
    for (const k of r.kernels) groups.set(`${k.model} ${k.phase}`, [...(groups.get(`${k.model} ${k.phase}`) ?? []), k]);
    const backend = (k: KernelResult) => (k.backend === 'wasm' ? `wasm ${k.threads ?? 1}t` : (k.backend ?? 'webgpu'));
    for (const [name, ks] of groups) {
      out.push(`### ${name}`, '');
      const rows = ks.map((k) => [
        backend(k),
        k.op,
        k.version === '-' ? k.kernel : `${k.kernel} ${k.version}`,
        k.weights ?? '',
        k.shape,
        k.validation.valid ? 'yes' : `**NO**${k.error ? ` (${k.error})` : ''}`,
        ms(k.timing?.median),
        k.timing ? `${ms(k.timing.p10)}-${ms(k.timing.p90)}` : '-',
        k.flops > 0 ? num(k.gflopsPerS) : '-',
        num(k.gbPerS),
        k.flops > 0 ? pct(k.pctCompute) : '-',
        pct(k.pctBandwidth),
      ]);
      out.push(...table(['backend', 'op', 'kernel', 'weights', 'shape', 'valid', 'ms', 'p10-p90', 'GFLOP/s', 'GB/s', '% compute', '% bandwidth'], rows), '');
    }
  }

  if (r.profile) {
    out.push(`## Forward-pass profile: ${r.profile.model}, ${r.profile.weights} weights`, '');
    for (const step of [r.profile.prefill, r.profile.prefillFused, r.profile.decode, r.profile.decodeFused]) if (step) out.push(...profileSection(step), '');
  }

  if (r.e2e) {
    const e = r.e2e;
    out.push(`## End to end: ${e.model} (${e.source}), context ${e.nCtx}`, '');
    out.push('Wall clock of model.forward() with the logits read back; the prefill time is the time to first token.', '');
    const [a, b] = [e.formats[0], e.formats[1]];
    const formats = e.formats;
    out.push(...table(['', ...formats.map((f) => `${f.weights} weights`)], [
      ['GPU memory (weights + activations + KV cache)', ...formats.map((f) => `${mib(f.gpuBytes.total)} (${mib(f.gpuBytes.weights)} + ${mib(f.gpuBytes.activations)} + ${mib(f.gpuBytes.kvCache)})`)],
      ['first prefill after loading (compiles pipelines)', ...formats.map((f) => `${ms(f.coldPrefillMs)} ms`)],
    ]), '');
    if (a) {
      const prefillRows = a.prefill.map((p, i) => [String(p.tokens), ...formats.flatMap((f) => [ms(f.prefill[i]?.median), num(f.prefill[i]?.tokensPerS)])]);
      out.push(...table(['prompt tokens', ...formats.flatMap((f) => [`TTFT ms (${f.weights})`, `prefill tok/s (${f.weights})`])], prefillRows), '');
      const decodeRows = a.decode.map((d, i) => [
        String(d.tokens),
        ...formats.flatMap((f) => [ms(f.decode[i]?.median), num(f.decode[i]?.tokensPerS)]),
        ms(a.noCache[i]?.median),
        `${num(a.noCache[i]?.slowdown)}x`,
      ]);
      out.push(
        ...table(['context', ...formats.flatMap((f) => [`decode ms (${f.weights})`, `tok/s (${f.weights})`]), `no KV cache ms (${a.weights})`, 'cache speedup'], decodeRows),
        '',
      );
      if (b) {
        const ratio = (x?: number, y?: number) => (x && y ? `${(x / y).toFixed(2)}x` : '-');
        out.push(`f16 over f32: prefill ${b.prefill.map((p, i) => ratio(a.prefill[i]?.median, p.median)).join(' ')}; decode ${b.decode.map((d, i) => ratio(a.decode[i]?.median, d.median)).join(' ')} (speedups by length, as listed above)`, '');
      }
    }
    for (const f of formats.filter((f) => f.engines?.length)) {
      const first = f.engines[0]!;
      out.push(`Decode engines after ${first.tokens} tokens, ${f.weights} weights: one step with its sampling, or per token of a decode run (as generate() decodes), each against the unfused step with the same sampling.`, '');
      const rows = f.engines.map((x) => {
        const textbook = f.engines.find((y) => y.sampling === x.sampling)!;
        return [x.engine, x.sampling, String(x.dispatchesPerToken ?? '-'), String(x.readbackBytesPerToken ?? '-'), ms(x.median), num(x.tokensPerS), `${num(x.tokensPerS / textbook.tokensPerS)}x`];
      });
      out.push(...table(['engine', 'sampling', 'dispatches / token', 'bytes read back / token', 'ms', 'tok/s', 'speedup'], rows), '');
    }
  }
  for (const w of r.wasmFormats ?? []) {
    out.push(`## Weight formats on WebAssembly: ${w.model} (${w.source}), ${w.threads} threads`, '');
    out.push(`Each format's model loaded side by side; decode steps after ${w.context} tokens (logits read back), the formats taking turns of ${w.turnSteps} steps in a row as a decode loop runs them, the first step of each turn not timed (it follows another model's step). Targets: q8 >= 1.7x and q4 >= 2.5x f32's decode speed; weights q8 <= 0.30x and q4 <= 0.17x of f32.`, '');
    out.push('WebAssembly memory is the model\'s whole share (weights, activation slots, KV cache); CPU ms is the process\'s CPU time of the step, every thread, which a busy machine disturbs less than the wall clock.', '');
    out.push(...table(['weights', 'weight bytes', 'x f32', 'WebAssembly memory', 'x f32', 'decode ms', 'tok/s', 'speed x f32', 'CPU ms', 'CPU x f32'], w.formats.map((f) => [
      f.weights, mib(f.weightBytes), f.weightRatio.toFixed(3), mib(f.wasmBytes), f.wasmRatio.toFixed(3), ms(f.decode.median), num(f.decode.tokensPerS), `${f.speedup.toFixed(2)}x`,
      ms(f.cpuMs), `${f.cpuSpeedup.toFixed(2)}x`,
    ])), '');
  }
  if (r.peers) {
    const p = r.peers;
    out.push(`## Peers: prefill of ${p.promptTokens} tokens, then ${p.newTokens} greedy tokens, ${p.model}, side by side in this run`, '');
    const wasm = wasmRun(p);
    out.push(...table(['runtime', 'device', 'threads', 'decode tok/s', 'prefill ms', 'wgpt wasm / this (decode)', 'this / wgpt wasm (prefill ms)'], p.runs.map((x) => [
      x.runtime, x.device, x.threads ? String(x.threads) : '-', num(x.decodeTokensPerS), ms(x.prefillMs),
      wasm ? `${(wasm.decodeTokensPerS / x.decodeTokensPerS).toFixed(2)}x` : '-', wasm ? `${(x.prefillMs / wasm.prefillMs).toFixed(2)}x` : '-',
    ])), '');
    for (const s of p.skipped) out.push(`- ${s.runtime}: not run (${s.why})`);
    if (p.skipped.length) out.push('');
  }
  return `${out.join('\n')}\n`;
}

function profileSection(p: StepProfile): string[] {
  const title = `### ${p.phase}${p.fused ? ' (fused kernels)' : ''}: T = ${p.T} at pos0 = ${p.pos0}; ${ms(p.gpuMs)} ms of GPU time in ${p.rows.length} dispatches (wall ${ms(p.wallMs)} ms), mean of ${p.runs} runs`;
  const lines = [title, ''];
  if (p.quantized) lines.push('Timestamps on this adapter are rounded to 65.536 us (Dawn timestamp_quantization); per-dispatch means over the runs remain unbiased but noisy.', '');
  lines.push(...table(['kernel', 'calls', 'ms', 'share'], p.byKernel.map((k) => [k.label, String(k.calls), ms(k.ms), pct(100 * k.share)])), '');
  const top = [...p.rows].sort((a, b) => b.ms - a.ms).slice(0, 12);
  lines.push(`Slowest dispatches (every row is in bench.json):`, '');
  lines.push(...table(['kernel', 'layer', 'shape', 'ms', 'share'], top.map((d) => [d.label, d.layer === undefined ? '-' : String(d.layer), d.shape ?? '', ms(d.ms), pct(100 * d.share)])));
  return lines;
}

/** Per kernel case (and end-to-end point) in both reports: B's time over A's, and A's over B's as a speedup. */
export function compareReports(a: BenchReport, b: BenchReport, names = ['A', 'B']): string {
  const [na, nb] = names;
  const out = [
    `A = ${na}: ${a.adapter.name}, ${a.git.commit.slice(0, 12)}, ${a.date}`,
    `B = ${nb}: ${b.adapter.name}, ${b.git.commit.slice(0, 12)}, ${b.date}`,
    '',
  ];
  const bById = new Map(b.kernels.map((k) => [k.id, k]));
  const rows: string[][] = [];
  const reshaped: string[] = [];
  for (const k of a.kernels) {
    const other = bById.get(k.id);
    if (!other?.timing || !k.timing) continue;
    if (other.shape !== k.shape) reshaped.push(`${k.id} (${k.shape} against ${other.shape})`);
    else rows.push([k.id, k.shape, ms(k.timing.median), ms(other.timing.median), `${(k.timing.median / other.timing.median).toFixed(2)}x`]);
  }
  if (rows.length) out.push(...table(['kernel case', 'shape', 'A ms', 'B ms', 'A/B (B faster when > 1)'], rows), '');
  else out.push('no kernel case was timed in both reports on the same shape', '');
  if (reshaped.length) out.push(`not compared, the shapes differ (run both with the same --tokens and --context): ${reshaped.join(', ')}`, '');

  const e2eRows: string[][] = [];
  for (const fa of a.e2e?.formats ?? []) {
    const fb = b.e2e?.formats.find((f) => f.weights === fa.weights);
    if (!fb) continue;
    for (const [what, la, lb] of [['prefill', fa.prefill, fb.prefill], ['decode', fa.decode, fb.decode]] as const) {
      for (const p of la) {
        const q = lb.find((x) => x.tokens === p.tokens);
        if (q) e2eRows.push([`${what} ${fa.weights} ${p.tokens} tokens`, ms(p.median), ms(q.median), `${(p.median / q.median).toFixed(2)}x`]);
      }
    }
  }
  if (e2eRows.length) out.push(...table(['end to end', 'A ms', 'B ms', 'A/B'], e2eRows), '');
  return `${out.join('\n')}\n`;
}

/** wgpt's WebAssembly run on the most threads: the one the others are compared with. */
export function wasmRun(r: PeersReport): PeerRun | undefined {
  const wasm = r.runs.filter((p) => p.runtime === 'wgpt' && p.device.startsWith('wasm'));
  return wasm.reduce<PeerRun | undefined>((a, p) => (!a || (p.threads ?? 1) > (a.threads ?? 1) ? p : a), undefined);
}
