// Uniform structs, declared once per kernel in TypeScript in the same order as the WGSL struct. Every field is a
// 4-byte scalar, so the WGSL layout is simply consecutive fields (padded to 16 bytes at the end).
// test/kernels/uniforms.test.ts parses every shader's struct and checks it against these declarations.

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformStruct<F extends string> {
  /** The WGSL struct's name. */
  name: string;
  fields: Record<F, ScalarType>;
  /** Where each field lies, in declaration order. */
  layout: { name: F; type: ScalarType; offset: number }[];
  byteLength: number;
  pack(values: Record<F, number>): ArrayBuffer;
}

export function defineUniforms<F extends string>(name: string, fields: Record<F, ScalarType>): UniformStruct<F> {
  const names = Object.keys(fields) as F[];
  const byteLength = Math.ceil((names.length * 4) / 16) * 16 || 16;
  return {
    name,
    fields,
    layout: names.map((field, i) => ({ name: field, type: fields[field], offset: i * 4 })),
    byteLength,
    pack(values) {
      const data = new DataView(new ArrayBuffer(byteLength));
      names.forEach((field, i) => {
        const value = values[field];
        const type = fields[field];
        if (type !== 'f32' && !Number.isInteger(value)) throw new Error(`${name}.${field} must be an integer, got ${value}`);
        if (type === 'u32' && (value < 0 || value > 0xffffffff)) throw new Error(`${name}.${field} out of u32 range: ${value}`);
        if (type === 'f32') data.setFloat32(i * 4, value, true);
        else if (type === 'i32') data.setInt32(i * 4, value, true);
        else data.setUint32(i * 4, value, true);
      });
      return data.buffer;
    },
  };
}
