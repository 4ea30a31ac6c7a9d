// Check before timing: every bench case first compares the GPU's output with the kernel's CPU reference, with the
// checker the tests use (src/kernels/check.ts). For the largest shapes the reference of every row costs too much,
// so a case may check evenly spaced rows of the exact shape instead; these choose and describe them.

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
