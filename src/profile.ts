// Where the time of one step goes: the per-dispatch GPU timings a Recorder returns with `{ profile: true }`
// (timestamp queries around every dispatch), as rows with their share of the step, a per-kernel summary, and a
// text table. `wgpt generate --profile` prints it; the bench writes it to its report.
import type { DispatchTiming } from './gpu/recorder.ts';

export interface ProfileRow {
  /** The dispatch's label: the kernel, or the layer it computes ("c_attn", "attn_softmax", "lm_head"). */
  label: string;
  layer?: number;
  shape?: string;
  ms: number;
  /** Fraction of the step's GPU time, 0..1. */
  share: number;
}

export interface KernelTotal {
  label: string;
  calls: number;
  ms: number;
  share: number;
}

/** Each dispatch with its share of the step. */
export function profileRows(timings: readonly DispatchTiming[]): ProfileRow[] {
  const total = timings.reduce((sum, t) => sum + t.ms, 0);
  return timings.map((t) => ({ label: t.label, layer: t.layer, shape: t.shape, ms: t.ms, share: total > 0 ? t.ms / total : 0 }));
}

/** The dispatches summed by label, largest first. */
export function profileByKernel(timings: readonly DispatchTiming[]): KernelTotal[] {
  const total = timings.reduce((sum, t) => sum + t.ms, 0);
  const byLabel = new Map<string, KernelTotal>();
  for (const t of timings) {
    const entry = byLabel.get(t.label) ?? { label: t.label, calls: 0, ms: 0, share: 0 };
    entry.calls += 1;
    entry.ms += t.ms;
    byLabel.set(t.label, entry);
  }
  const totals = [...byLabel.values()];
  for (const k of totals) k.share = total > 0 ? k.ms / total : 0;
  return totals.sort((a, b) => b.ms - a.ms);
}

/** A text table: every dispatch (kernel, layer, shape, ms, share), then the totals per kernel. */
export function formatProfile(title: string, timings: readonly DispatchTiming[]): string {
  const rows = profileRows(timings);
  const total = rows.reduce((sum, r) => sum + r.ms, 0);
  const labelWidth = Math.max(6, ...rows.map((r) => r.label.length));
  const shapeWidth = Math.max(5, ...rows.map((r) => (r.shape ?? '').length));
  const line = (label: string, layer: string, shape: string, ms: string, share: string) =>
    `${label.padEnd(labelWidth)}  ${layer.padStart(5)}  ${shape.padEnd(shapeWidth)}  ${ms.padStart(9)}  ${share.padStart(6)}`;
  const out = [`${title}: ${rows.length} dispatches, ${total.toFixed(3)} ms of GPU time`, line('kernel', 'layer', 'shape', 'ms', 'share')];
  for (const r of rows) out.push(line(r.label, r.layer === undefined ? '-' : String(r.layer), r.shape ?? '', r.ms.toFixed(4), percent(r.share)));
  out.push('', `${title}, by kernel:`, line('kernel', 'calls', '', 'ms', 'share'));
  for (const k of profileByKernel(timings)) out.push(line(k.label, String(k.calls), '', k.ms.toFixed(4), percent(k.share)));
  return out.join('\n');
}

function percent(share: number): string {
  return `${(100 * share).toFixed(1)}%`;
}
