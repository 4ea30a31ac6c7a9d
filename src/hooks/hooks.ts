// Reading and changing activations at hook points, in the forward passes (on whichever backend runs them: the
// backend applies interventions with its intervene kernel and copies captures out) and on the CPU (in the
// float64 references). A forward pass calls `hook(name, tensor, view)` at every point; unless the run asked for
// that name, the call returns at once: no copy, no dispatch.
//
// A view says how the activation lies in its buffer: `rows` token rows (absolute positions firstRow ..), `cols`
// floats each, `rowStride` apart from `offset` (q inside the fused qkv rows: rowStride 3C); attention scores and
// patterns carry `outer` = NH blocks of [rows, cols]; q, k, v and z have heads side by side (`headDim`).
import { createTensor, readF32, uploadTensor, type Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { intervene, interveneReference, type Box, type BoxView, type InterveneOp } from '../kernels/intervene.ts';
import { findHookPoint, HookError } from './points.ts';

export interface HookView {
  rows: number;
  cols: number;
  /** Blocks of [rows, cols] one after another (heads of attention scores / patterns); default 1. */
  outer?: number;
  /** Floats between rows (default cols) and where row 0 starts (default 0). */
  rowStride?: number;
  offset?: number;
  /** Columns are heads of headDim floats side by side. */
  headDim?: number;
  /** Absolute position of row 0; default the step's pos0. */
  firstRow?: number;
}

/** A captured activation: its shape (as declared in points.ts) and its values, row-major. */
export interface Activation {
  shape: number[];
  data: Float32Array;
}

/**
 * One intervention at a hook. The slice: `head`, `position` (absolute; one or [from, to)), `dims` ([from, to) of
 * the columns, within the head when a head is given) or `neuron` (one column). Leave one out to take all of it.
 */
export interface Intervention {
  hook: string;
  op: 'zero' | 'scale' | 'add' | 'noise' | 'patch';
  /** scale: x *= factor. */
  factor?: number;
  /** add: one value per selected column, or `value` on every selected element. */
  vector?: ArrayLike<number>;
  value?: number;
  /** noise: x += sigma * N(0, 1), from `seed` (default 0). */
  sigma?: number;
  seed?: number;
  /** patch: x = the same slice of this activation from another run (runWithCache of the clean prompt). */
  source?: Activation;
  head?: number;
  position?: number | [number, number];
  dims?: [number, number];
  neuron?: number;
}

/** The function a forward pass calls at each hook point. */
export interface HookFn<T> {
  (name: string, tensor: T, view: HookView): void;
  /** Whether the run reads or changes this hook (the GPT-2 forward splits its embedding only then). */
  wants(name: string): boolean;
}

const shapeOf = (v: HookView): number[] =>
  (v.outer ?? 1) > 1 ? [v.outer!, v.rows, v.cols] : v.headDim ? [v.rows, v.cols / v.headDim, v.headDim] : [v.rows, v.cols];

export const boxView = (v: HookView, pos0: number): BoxView => ({
  outerStride: v.rows * (v.rowStride ?? v.cols),
  rowStride: v.rowStride ?? v.cols,
  offset: v.offset ?? 0,
  rowBase: v.firstRow ?? pos0,
});

/** The box of `view` an intervention touches in a step starting at pos0; undefined when none of it is in this step. */
export function interventionBox(iv: Intervention, view: HookView, pos0: number): Box | undefined {
  const outer = view.outer ?? 1;
  const first = view.firstRow ?? pos0;
  const heads = outer > 1 ? outer : view.headDim ? view.cols / view.headDim : 0;
  if (iv.head !== undefined && !(Number.isInteger(iv.head) && iv.head >= 0 && iv.head < heads)) {
    throw new HookError(heads ? `hook ${iv.hook}: head ${iv.head} is out of range 0..${heads - 1}` : `hook ${iv.hook} has no heads: leave out the head`);
  }
  const [p0, p1] = iv.position === undefined ? [first, first + view.rows] : typeof iv.position === 'number' ? [iv.position, iv.position + 1] : iv.position;
  const r0 = Math.max(p0, first) - first;
  const r1 = Math.min(p1, first + view.rows) - first;
  if (r1 <= r0) return undefined;
  const headCols = outer === 1 && iv.head !== undefined;
  const base = headCols ? iv.head! * view.headDim! : 0;
  const width = headCols ? view.headDim! : view.cols;
  const [d0, d1] = iv.neuron !== undefined ? [iv.neuron, iv.neuron + 1] : (iv.dims ?? [0, width]);
  if (!(Number.isInteger(d0) && Number.isInteger(d1) && d0 >= 0 && d1 <= width && d0 < d1)) {
    throw new HookError(`hook ${iv.hook}: columns ${d0}..${d1} are outside 0..${width}`);
  }
  const [o0, nO] = outer > 1 && iv.head !== undefined ? [iv.head, 1] : [0, outer];
  return { o0, nO, r0, nR: r1 - r0, c0: base + d0, nC: d1 - d0 };
}

/** The scale, noise and source values of an intervention on `box` (the source sliced out of the other run). */
export function interventionOp(iv: Intervention, view: HookView, box: Box, pos0: number): InterveneOp {
  const scale = iv.op === 'zero' || iv.op === 'patch' ? 0 : iv.op === 'scale' ? finite(iv.factor, 'factor', iv) : 1;
  const sigma = iv.op === 'noise' ? finite(iv.sigma, 'sigma', iv) : 0;
  const op: InterveneOp = { scale, sigma, seed: iv.seed ?? 0 };
  if (iv.op === 'add') {
    const values = iv.vector ?? new Float32Array(box.nC).fill(finite(iv.value, 'value', iv));
    if (values.length !== box.nC) throw new HookError(`hook ${iv.hook}: the vector has ${values.length} values for ${box.nC} columns`);
    op.source = { kind: 'columns', values };
  }
  if (iv.op === 'patch') op.source = { kind: 'box', values: patchValues(iv, view, box, pos0) };
  return op;
}

function finite(x: number | undefined, what: string, iv: Intervention): number {
  if (typeof x !== 'number' || !Number.isFinite(x)) throw new HookError(`hook ${iv.hook}: ${iv.op} needs a finite ${what}`);
  return x;
}

/** The box's elements out of the source run's activation ([T, ...] or [NH, T, S], from position 0). */
function patchValues(iv: Intervention, view: HookView, box: Box, pos0: number): Float32Array {
  const src = iv.source;
  if (!src) throw new HookError(`hook ${iv.hook}: patch needs the source activation (runWithCache of the other prompt)`);
  const outer = view.outer ?? 1;
  const [srcRows, srcCols] = outer > 1 ? [src.shape[1]!, src.shape[2]!] : [src.shape[0]!, src.data.length / src.shape[0]!];
  if (srcCols !== view.cols) throw new HookError(`hook ${iv.hook}: the source has ${srcCols} columns and this run ${view.cols}: patch prompts of the same length`);
  const first = view.firstRow ?? pos0;
  if (first + box.r0 + box.nR > srcRows) throw new HookError(`hook ${iv.hook}: the source run has only ${srcRows} positions: patch prompts of the same length`);
  const out = new Float32Array(box.nO * box.nR * box.nC);
  let i = 0;
  for (let o = box.o0; o < box.o0 + box.nO; o++) {
    for (let r = box.r0; r < box.r0 + box.nR; r++) {
      for (let c = box.c0; c < box.c0 + box.nC; c++) out[i++] = src.data[(o * srcRows + first + r) * srcCols + c]!;
    }
  }
  return out;
}

function checkNames(names: Iterable<string>): void {
  for (const name of names) if (!findHookPoint(name)) throw new HookError(`there is no hook "${name}": see HOOK_POINTS in src/hooks/points.ts for the names`);
}

/** One intervention at one hook of one step, ready for a backend's intervene kernel. */
export interface PlannedIntervention {
  view: BoxView;
  box: Box;
  scale: number;
  sigma: number;
  seed: number;
  /** 0: no source; 1: one value per column; 2: the box's values (a patch). */
  srcMode: 0 | 1 | 2;
  source?: Float32Array;
  label: string;
}

/**
 * The hooks of a run, on any backend: which activations to copy back, and which interventions to apply. Give it
 * to `model.forward(ids, pos0, { hooks })`; after the forward, `collect()` reads the copies back. A backend asks
 * `plan()` for the interventions at a hook and applies them with its intervene kernel, and hands `keep()` a way
 * to read each captured activation once its step has run.
 */
export class Hooks {
  private byHook = new Map<string, Intervention[]>();
  private captures = new Map<string, { view: HookView; read: () => Promise<Float32Array> }>();
  private releases: (() => void)[] = [];

  constructor(
    readonly capture: ReadonlySet<string> = new Set(),
    readonly interventions: readonly Intervention[] = [],
  ) {
    checkNames(capture);
    checkNames(interventions.map((iv) => iv.hook));
    for (const iv of interventions) this.byHook.set(iv.hook, [...(this.byHook.get(iv.hook) ?? []), iv]);
  }

  wants(name: string): boolean {
    return this.capture.has(name) || this.byHook.has(name);
  }

  /** The interventions at `name` that touch this step (starting at pos0), each with its box and its values. */
  plan(name: string, view: HookView, pos0: number): PlannedIntervention[] {
    const planned: PlannedIntervention[] = [];
    for (const iv of this.byHook.get(name) ?? []) {
      const box = interventionBox(iv, view, pos0);
      if (!box) continue;
      const op = interventionOp(iv, view, box, pos0);
      const srcMode = !op.source ? 0 : op.source.kind === 'columns' ? 1 : 2;
      const source = op.source && Float32Array.from(op.source.values);
      planned.push({ view: boxView(view, pos0), box, scale: op.scale, sigma: op.sigma, seed: op.seed, srcMode, source, label: `${iv.op} ${name}` });
    }
    return planned;
  }

  /**
   * A captured activation: `read` gives, once the step has run, its view's span from the view's offset on
   * (`spanFloats(view)` floats); the rows are picked out of it in collect().
   */
  keep(name: string, view: HookView, read: () => Promise<Float32Array>): void {
    if (this.captures.has(name)) throw new HookError(`hook ${name} ran twice in one capture: capture a prompt that runs in one step`);
    this.captures.set(name, { view, read });
  }

  /** Run `free` when the hooks are released (a backend's copies and uploaded sources). */
  onRelease(free: () => void): void {
    this.releases.push(free);
  }

  /** Read every captured activation back (after the forward pass ran). */
  async collect(): Promise<Map<string, Activation>> {
    const out = new Map<string, Activation>();
    for (const [name, { view, read }] of this.captures) out.set(name, { shape: shapeOf(view), data: gather(await read(), view, Float32Array) });
    return out;
  }

  /** Free the copies and uploaded sources. */
  release(): void {
    for (const free of this.releases) free();
    this.releases = [];
    this.captures.clear();
  }
}

/** Floats from a view's offset to the end of its last element: what a capture copies. */
export function spanFloats(view: HookView): number {
  const bv = boxView(view, 0);
  return ((view.outer ?? 1) - 1) * bv.outerStride + (view.rows - 1) * bv.rowStride + view.cols;
}

/** The view's elements, [outer, rows, cols] contiguous, out of a span that starts at its offset. */
function gather<A extends Float32Array | Float64Array>(span: ArrayLike<number>, view: HookView, make: new (n: number) => A): A {
  const bv = boxView(view, 0);
  const outer = view.outer ?? 1;
  const out = new make(outer * view.rows * view.cols);
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let r = 0; r < view.rows; r++) {
      for (let c = 0; c < view.cols; c++) out[i++] = span[o * bv.outerStride + r * bv.rowStride + c]!;
    }
  }
  return out;
}

/** A hook function that does nothing (a forward pass without hooks). */
export function noHooks<T>(): HookFn<T> {
  return Object.assign(() => {}, { wants: () => false });
}

/**
 * The hook function of a WebGPU step: interventions run the intervene kernel in the step's Recorder, captures
 * copy the view's span into a buffer of their own, read back in collect(). Without hooks, one that does nothing.
 */
export function gpuHook(rec: Recorder, hooks: Hooks | undefined, pos0: number): HookFn<Tensor> {
  if (!hooks) return noHooks();
  const { device } = rec.gpu;
  const keep = (t: Tensor): Tensor => {
    hooks.onRelease(() => t.buffer.destroy());
    return t;
  };
  let empty: Tensor | undefined;
  const fn = (name: string, tensor: Tensor, view: HookView) => {
    if (!hooks.wants(name)) return;
    for (const p of hooks.plan(name, view, pos0)) {
      const src = p.source ? keep(uploadTensor(device, 'f32', [p.source.length], p.source, `intervene ${name}`)) : (empty ??= keep(uploadTensor(device, 'f32', [1], new Float32Array(1), 'intervene none')));
      intervene(rec, tensor, src, p.view, p.box, { scale: p.scale, sigma: p.sigma, seed: p.seed, srcMode: p.srcMode }, p.label);
    }
    if (!hooks.capture.has(name)) return;
    const floats = spanFloats(view);
    let copy: Tensor | undefined;
    hooks.keep(name, view, () => readF32(device, copy!));
    copy = keep(createTensor(device, 'f32', [floats], `capture ${name}`));
    rec.copy(tensor, (view.offset ?? 0) * 4, copy, 0, floats * 4, `capture ${name}`);
  };
  return Object.assign(fn, { wants: (name: string) => hooks.wants(name) });
}

/**
 * The same hooks for the float64 CPU references (src/reference/*): interventions applied with the kernel's CPU
 * reference, activations captured as Float64Array copies. References run whole sequences from position 0.
 */
export class CpuHooks {
  readonly cache = new Map<string, { shape: number[]; data: Float64Array }>();
  constructor(
    readonly capture: ReadonlySet<string> = new Set(),
    readonly interventions: readonly Intervention[] = [],
  ) {}

  readonly hook: HookFn<Float64Array> = Object.assign(
    (name: string, x: Float64Array, view: HookView) => {
      for (const iv of this.interventions) {
        if (iv.hook !== name) continue;
        const box = interventionBox(iv, view, 0);
        if (box) interveneReference(x, boxView(view, 0), box, interventionOp(iv, view, box, 0));
      }
      if (this.capture.has(name)) this.cache.set(name, { shape: shapeOf(view), data: gather(x.subarray(view.offset ?? 0), view, Float64Array) });
    },
    { wants: (name: string) => this.capture.has(name) || this.interventions.some((iv) => iv.hook === name) },
  );
}
