// The checker every kernel's GPU output is judged by, in the tests and in the bench (llm.c's rule): an element
// passes when |gpu - ref| <= atol + |ref| * rtol. A NaN on the GPU always fails (outputs are poisoned with NaN
// before a run, so an element the kernel never wrote shows up). A reference value that is not finite, such as
// the -infinity of a masked attention score, must come out exactly the same: it is part of the kernel's contract,
// not a value to be near. The first mismatches are kept, to be printed.

export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface Validation {
  /** Every element compared passed, and there was at least one. */
  valid: boolean;
  /** Largest |gpu - ref| over the finite reference values. */
  maxAbsError: number;
  /** Largest |gpu - ref| / |ref| where |ref| * rtol >= atol, i.e. where the relative part of the rule applies. */
  maxRelError: number;
  tolerance: Tolerance;
  /** How many output elements were compared with the reference. */
  checked: number;
  /** How many of them failed. */
  failed?: number;
  /** What was compared: "all", or which rows of the exact shape when the reference of every row costs too much. */
  scope: string;
  /** The first few mismatches, for a report that says what went wrong. */
  mismatches: string[];
}

/** How many mismatches are kept for the message. */
const SHOWN = 8;

/** Compares pairs of (gpu, ref) values and keeps the worst errors and the first mismatches. */
export class Checker {
  private maxAbs = 0;
  private maxRel = 0;
  private count = 0;
  private failures = 0;
  private bad: string[] = [];

  constructor(
    readonly tolerance: Tolerance,
    readonly scope = 'all',
  ) {}

  /** Compare one element; `where` names it in the first mismatches. */
  add(gpu: number, ref: number, where: () => string): void {
    this.count++;
    const { rtol, atol } = this.tolerance;
    const err = Math.abs(gpu - ref);
    const allowed = atol + Math.abs(ref) * rtol;
    let ok: boolean;
    if (!Number.isFinite(ref)) {
      ok = Object.is(gpu, ref);
    } else {
      ok = err <= allowed; // false for NaN
      if (Number.isFinite(err)) {
        this.maxAbs = Math.max(this.maxAbs, err);
        if (Math.abs(ref) * rtol >= atol && ref !== 0) this.maxRel = Math.max(this.maxRel, err / Math.abs(ref));
      } else {
        this.maxAbs = Number.POSITIVE_INFINITY;
      }
    }
    if (!ok) this.fail(() => `${where()}: gpu ${gpu}, reference ${ref}${Number.isFinite(ref) ? ` (error ${err.toExponential(2)} > ${allowed.toExponential(2)})` : ''}`);
  }

  /** Compare whole arrays, element by element. */
  addAll(gpu: ArrayLike<number>, ref: ArrayLike<number>, name = 'out'): void {
    if (gpu.length !== ref.length) {
      this.fail(() => `${name}: ${gpu.length} values from the GPU, ${ref.length} from the reference`);
      return;
    }
    for (let i = 0; i < ref.length; i++) this.add(gpu[i]!, ref[i]!, () => `${name}[${i}]`);
  }

  /** Fail when any element of `gpu` is NaN: a poisoned element the kernel never wrote, or a NaN it made. */
  expectNoNaN(gpu: ArrayLike<number>, name = 'out'): void {
    for (let i = 0; i < gpu.length; i++) {
      if (Number.isNaN(gpu[i]!)) {
        this.fail(() => `${name}[${i}] is NaN: the kernel left it unwritten or computed a NaN`);
        return;
      }
    }
  }

  result(): Validation {
    return {
      valid: this.failures === 0 && this.count > 0,
      maxAbsError: this.maxAbs,
      maxRelError: this.maxRel,
      tolerance: this.tolerance,
      checked: this.count,
      failed: this.failures,
      scope: this.scope,
      mismatches: this.bad,
    };
  }

  /** One line saying what failed, and the first mismatches below it. */
  summary(what: string): string {
    const r = this.result();
    if (r.valid) return `${what}: ${r.checked} values within ${describe(r.tolerance)}`;
    const head = r.checked === 0 && r.failed === 0 ? `${what}: nothing was compared` : `${what}: ${r.failed} of ${r.checked} values outside ${describe(r.tolerance)}`;
    return [head, ...r.mismatches].join('\n');
  }

  private fail(message: () => string): void {
    this.failures++;
    if (this.bad.length < SHOWN) this.bad.push(message());
  }
}

function describe(t: Tolerance): string {
  return `atol ${t.atol} + |ref| * rtol ${t.rtol}`;
}
