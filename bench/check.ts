// Check before timing: every bench case first compares the GPU's output with the kernel's CPU reference, with
// llm.c's rule (an element passes when |gpu - ref| <= atol + |ref| * rtol; NaN on the GPU always fails, since
// outputs are poisoned with NaN before the run; reference values that are not finite, such as the -infinity
// of masked attention scores, must be matched exactly).

export interface Tolerance {
  rtol: number;
  atol: number;
}

export interface Validation {
  valid: boolean;
  /** Largest |gpu - ref| over the elements checked. */
  maxAbsError: number;
  /** Largest |gpu - ref| / |ref| where |ref| * rtol >= atol, i.e. where the relative part of the rule applies. */
  maxRelError: number;
  tolerance: Tolerance;
  /** How many output elements were compared with the reference. */
  checked: number;
  /** What was compared: "all", or which rows of the exact shape when the reference of every row costs too much. */
  scope: string;
  /** The first few mismatches, for a report that says what went wrong. */
  mismatches: string[];
}

/** Compares pairs of (gpu, ref) values and keeps the worst errors. */
export class Checker {
  private maxAbs = 0;
  private maxRel = 0;
  private count = 0;
  private bad: string[] = [];
  private failed = false;

  constructor(
    readonly tolerance: Tolerance,
    readonly scope = 'all',
  ) {}

  /** Compare one element; `where` names it in the first mismatches. */
  add(gpu: number, ref: number, where: () => string): void {
    this.count++;
    const { rtol, atol } = this.tolerance;
    let ok: boolean;
    if (!Number.isFinite(ref)) {
      ok = gpu === ref;
    } else {
      const err = Math.abs(gpu - ref);
      ok = err <= atol + Math.abs(ref) * rtol; // false for NaN
      if (Number.isFinite(err)) {
        this.maxAbs = Math.max(this.maxAbs, err);
        if (Math.abs(ref) * rtol >= atol && ref !== 0) this.maxRel = Math.max(this.maxRel, err / Math.abs(ref));
      } else {
        this.maxAbs = Number.POSITIVE_INFINITY;
      }
    }
    if (!ok) {
      this.failed = true;
      if (this.bad.length < 5) this.bad.push(`${where()}: gpu ${gpu}, reference ${ref}`);
    }
  }

  /** Compare whole arrays, element by element. */
  addAll(gpu: ArrayLike<number>, ref: ArrayLike<number>, name = 'out'): void {
    if (gpu.length !== ref.length) {
      this.failed = true;
      this.bad.push(`${name}: ${gpu.length} values from the GPU, ${ref.length} from the reference`);
      return;
    }
    for (let i = 0; i < ref.length; i++) this.add(gpu[i]!, ref[i]!, () => `${name}[${i}]`);
  }

  /** Fail when any element of `gpu` is NaN: a poisoned element the kernel never wrote, or a NaN it made. */
  expectNoNaN(gpu: ArrayLike<number>, name = 'out'): void {
    for (let i = 0; i < gpu.length; i++) {
      if (Number.isNaN(gpu[i]!)) {
        this.failed = true;
        this.bad.push(`${name}[${i}] is NaN: the kernel left it unwritten or computed a NaN`);
        return;
      }
    }
  }

  result(): Validation {
    return {
      valid: !this.failed && this.count > 0,
      maxAbsError: this.maxAbs,
      maxRelError: this.maxRel,
      tolerance: this.tolerance,
      checked: this.count,
      scope: this.scope,
      mismatches: this.bad,
    };
  }
}

/**
 * Rows to check against the reference: all of them when `rows * costPerRow` is within `budget` (multiply-adds of
 * the reference), else evenly spaced rows including the first and the last.
 */
export function rowsToCheck(rows: number, costPerRow: number, budget: number): number[] {
  const affordable = Math.max(2, Math.floor(budget / Math.max(costPerRow, 1)));
  if (rows <= affordable) return Array.from({ length: rows }, (_, i) => i);
  const picked = new Set<number>();
  for (let i = 0; i < affordable; i++) picked.add(Math.round((i * (rows - 1)) / (affordable - 1)));
  return [...picked].sort((a, b) => a - b);
}

/** "all" or "rows 0, 37, ... of 128". */
export function describeRows(rows: number[], total: number, what = 'rows'): string {
  if (rows.length === total) return 'all';
  const shown = rows.length <= 8 ? rows.join(', ') : `${rows.slice(0, 4).join(', ')}, ..., ${rows.slice(-2).join(', ')}`;
  return `${rows.length} of ${total} ${what} (${shown}) of the exact shape`;
}
