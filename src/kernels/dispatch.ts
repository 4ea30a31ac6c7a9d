// Dispatch maths shared by the kernels.

/**
 * Workgroup counts covering `count` workgroups, folded into a 2-D grid when more than the per-dimension limit
 * (65535) are needed. A shader on such a grid recovers its flat index as `gid.x + gid.y * num_workgroups.x * WG`.
 */
export function grid1d(count: number, max = 65535): [number, number] {
  if (count <= max) return [count, 1];
  const y = Math.ceil(count / max);
  return [Math.ceil(count / y), y];
}

export function ceilDiv(a: number, b: number): number {
  return Math.ceil(a / b);
}

