// The checker of tests and bench (src/kernels/check.ts): llm.c's rule, one way for non-finite values.
import { describe, expect, it } from 'vitest';
import { Checker } from '../../src/kernels/check.ts';

function check(gpu: number[], ref: number[], tol = { rtol: 1e-3, atol: 1e-6 }) {
  const c = new Checker(tol);
  c.addAll(gpu, ref);
  return { ...c.result(), summary: c.summary('out') };
}

describe('Checker', () => {
  it('allows atol + |ref| * rtol and no more', () => {
    expect(check([1.0009, -2000.9, 5e-7], [1, -2000, 0]).valid).toBe(true);
    const r = check([1.0011, -2002.1, 2e-6], [1, -2000, 0]);
    expect([r.valid, r.failed, r.checked]).toEqual([false, 3, 3]);
    expect(r.mismatches[0]).toMatch(/^out\[0\]: gpu 1.0011, reference 1 \(error 1\.10e-3 > 1\.00e-3\)$/);
    expect(r.summary.split('\n')[0]).toBe('out: 3 of 3 values outside atol 0.000001 + |ref| * rtol 0.001');
  });

  it('fails NaN on the GPU and wants a non-finite reference value exactly', () => {
    expect(check([Number.NaN], [1]).valid).toBe(false);
    expect(check([-Infinity, 0.5], [-Infinity, 0.5]).valid).toBe(true);
    expect(check([-3.4e38], [-Infinity]).valid).toBe(false);
    expect(check([Infinity], [-Infinity]).valid).toBe(false);
    expect(check([Number.NaN], [Number.NaN]).valid).toBe(true);
  });

  it('keeps the first 8 mismatches, counts them all, and reports the worst errors', () => {
    const r = check(new Array(20).fill(2), new Array(20).fill(1));
    expect([r.failed, r.mismatches.length, r.maxAbsError, r.maxRelError]).toEqual([20, 8, 1, 1]);
    expect(check([1], [1, 2]).mismatches).toEqual(['out: 1 values from the GPU, 2 from the reference']);
    expect(check([], []).valid).toBe(false); // nothing compared
  });
});
