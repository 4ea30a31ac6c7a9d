// Each uniform struct is written twice, in WGSL and in TypeScript (defineUniforms). This parses the struct of every
// version of every kernel, after its includes are expanded and for every combination of its #if flags, and checks
// it against the TypeScript declaration: name, fields in order, their types and byte offsets, and the size.
import { describe, expect, it } from 'vitest';
import { assembleShader, expandIncludes } from '../../src/gpu/shaders.ts';
import type { UniformStruct } from '../../src/gpu/uniforms.ts';
import { KERNELS } from '../../src/kernels/registry.ts';

interface Field {
  name: string;
  type: string;
  offset: number;
}

/** Alignment and size of the WGSL types a uniform struct may hold here (WGSL's memory layout rules). */
const LAYOUT: Record<string, { align: number; size: number }> = {
  u32: { align: 4, size: 4 },
  i32: { align: 4, size: 4 },
  f32: { align: 4, size: 4 },
  'vec2<u32>': { align: 8, size: 8 },
  'vec2<f32>': { align: 8, size: 8 },
  'vec4<u32>': { align: 16, size: 16 },
  'vec4<f32>': { align: 16, size: 16 },
};

const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

/** The struct bound as `var<uniform>` in `code`: its name, fields with offsets, and its size in a uniform buffer. */
function parseUniformStruct(code: string): { name: string; fields: Field[]; byteLength: number } {
  const text = code.replace(/\/\/.*$/gm, '');
  const bound = [...text.matchAll(/var<uniform>\s+\w+\s*:\s*(\w+)\s*;/g)].map((m) => m[1]!);
  expect(bound, 'one uniform binding').toHaveLength(1);
  const name = bound[0]!;
  const body = new RegExp(`struct\\s+${name}\\s*\\{([^}]*)\\}`).exec(text)?.[1];
  if (body === undefined) throw new Error(`no struct ${name}`);
  let offset = 0;
  let align = 0;
  const fields = body
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean)
    .map((f) => {
      const m = /^(\w+)\s*:\s*([\w<>]+)$/.exec(f);
      if (!m) throw new Error(`struct ${name}: cannot read the field "${f}"`);
      const layout = LAYOUT[m[2]!];
      if (!layout) throw new Error(`struct ${name}: field ${m[1]} has the type ${m[2]}, which this test does not lay out`);
      offset = roundUp(offset, layout.align);
      align = Math.max(align, layout.align);
      const field = { name: m[1]!, type: m[2]!, offset };
      offset += layout.size;
      return field;
    });
  // A uniform buffer binding holds the struct rounded up to 16 bytes (WGSL's uniform address space).
  return { name, fields, byteLength: roundUp(roundUp(offset, align), 16) };
}

/** Every assignment of true and false to the flags of `#if ${FLAG}` lines; other constants get a plain 16. */
function constantSets(code: string): Record<string, number | boolean>[] {
  const flags = [...new Set([...code.matchAll(/#if \$\{(\w+)\}/g)].map((m) => m[1]!))];
  const numbers = Object.fromEntries([...code.matchAll(/\$\{(\w+)\}/g)].map((m) => [m[1]!, 16]));
  return Array.from({ length: 2 ** flags.length }, (_, bits) => ({
    ...numbers,
    ...Object.fromEntries(flags.map((flag, i) => [flag, ((bits >> i) & 1) === 1])),
  }));
}

function declared(struct: UniformStruct<string>) {
  return { name: struct.name, fields: struct.layout.map(({ name, type, offset }) => ({ name, type, offset })), byteLength: struct.byteLength };
}

describe('uniform structs', () => {
  const versions = KERNELS.flatMap((k) => k.versions.map((v) => ({ kernel: k.name, ...v })));

  it.each(versions)('$shader agrees with its TypeScript declaration ($kernel $name)', ({ shader, uniforms }) => {
    const sets = constantSets(expandIncludes(shader));
    for (const constants of sets) {
      expect(parseUniformStruct(assembleShader(shader, constants)), `${shader} with ${JSON.stringify(constants)}`).toEqual(declared(uniforms));
    }
  });

  it('notices a struct that differs from its declaration', () => {
    const code = 'struct P {\n  n: u32,\n  scale: f32,  // a comment\n  pad: vec2<f32>,\n}\n@group(0) @binding(0) var<uniform> params: P;';
    expect(parseUniformStruct(code)).toEqual({
      name: 'P',
      fields: [
        { name: 'n', type: 'u32', offset: 0 },
        { name: 'scale', type: 'f32', offset: 4 },
        { name: 'pad', type: 'vec2<f32>', offset: 8 },
      ],
      byteLength: 16,
    });
    const [matmul] = KERNELS.filter((k) => k.name === 'matmul');
    const swapped = 'struct MatmulParams {\n  N: u32,\n  M: u32,\n  K: u32,\n}\nvar<uniform> params: MatmulParams;';
    expect(parseUniformStruct(swapped)).not.toEqual(declared(matmul!.versions[0]!.uniforms));
  });
});
