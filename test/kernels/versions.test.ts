// The kernel registry: every shader file belongs to one version of one kernel and is named after it, and every
// kernel names exactly one default version per kind of adapter (matmul: per kind of call, one row or several, and
// weights of any format or quantized ones).
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KERNELS } from '../../src/kernels/registry.ts';
import type { Kernel, KernelVersion } from '../../src/kernels/versions.ts';

const shadersDir = new URL('../../shaders/', import.meta.url);
const kernelsDir = new URL('../../src/kernels/', import.meta.url);

function isKernel(value: unknown): value is Kernel {
  return typeof value === 'object' && value !== null && 'versions' in value && 'defaultFor' in value;
}

describe('kernel versions', () => {
  it('covers every shader file once, each named after its kernel and version', () => {
    const files = readdirSync(shadersDir).filter((f) => f.endsWith('.wgsl')).sort();
    const shaders = KERNELS.flatMap((k) => k.versions.map((v) => v.shader)).sort();
    expect(shaders).toEqual(files);
    for (const k of KERNELS) {
      for (const v of k.versions) expect(v.shader).toBe(k.versions.length === 1 ? `${k.name}.wgsl` : `${k.name}.${v.name}.wgsl`);
    }
  });

  it('lists every kernel of src/kernels, each beside the function of its name', async () => {
    const found: Kernel[] = [];
    for (const file of readdirSync(kernelsDir).filter((f) => f.endsWith('.ts'))) {
      const module = (await import(new URL(file, kernelsDir).href)) as Record<string, unknown>;
      for (const value of Object.values(module).filter(isKernel)) {
        expect(typeof module[value.name], `${file} exports the function ${value.name}`).toBe('function');
        found.push(value);
      }
    }
    expect(new Set(found)).toEqual(new Set(KERNELS));
  });

  it('includes every file of shaders/lib in some shader', () => {
    const includes = (file: string) => [...readFileSync(new URL(file, shadersDir), 'utf8').matchAll(/^#include "(.+)"$/gm)].map((m) => m[1]!);
    const used = new Set<string>();
    const visit = (file: string) => includes(file).filter((f) => !used.has(f)).forEach((f) => (used.add(f), visit(f)));
    KERNELS.forEach((k) => k.versions.forEach((v) => visit(v.shader)));
    const lib = readdirSync(new URL('lib/', shadersDir)).map((f) => `lib/${f}`);
    expect([...used].sort()).toEqual(lib.sort());
  });

  it.each(['hardware', 'software'] as const)('names exactly one default per kernel and kind of call on a %s adapter', (kind) => {
    const gpu = { info: { kind } };
    // a kind of call: how many rows (matmul: any, or one), and which weights (matmul: any format, or quantized)
    const callOf = (v: KernelVersion) => `${'rows' in v ? String(v.rows) : 'any'} rows, ${'weights' in v ? String(v.weights) : 'any'} weights`;
    for (const k of KERNELS) {
      for (const call of new Set(k.versions.map(callOf))) {
        expect(() => k.defaultFor(gpu, (v) => callOf(v) === call), `${k.name} (${call})`).not.toThrow();
      }
    }
  });

  it('says which versions exist when asked for another', () => {
    const [softmax] = KERNELS.filter((k) => k.name === 'softmax');
    expect(() => softmax!.version('v9')).toThrow('softmax has no version v9; its versions are v1, v2');
    expect(() => softmax!.defaultFor({ info: { kind: 'software' } }, () => false)).toThrow(/0 versions are the default/);
  });
});
