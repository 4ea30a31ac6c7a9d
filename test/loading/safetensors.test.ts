import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits, roundToF16 } from '../../src/half.ts';
import { parseSafetensors, SafetensorsError, writeSafetensors, type SafetensorsErrorCode } from '../../src/loading/safetensors.ts';
import { Rng } from '../../src/random.ts';
import { randomArray } from '../helpers.ts';

/** A file from a header given as text (padded or not) and `dataBytes` bytes of data counting up from 1. */
function rawFile(header: string, dataBytes: number, declaredHeaderBytes?: number): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(declaredHeaderBytes ?? h.length), true);
  out.set(h, 8);
  for (let i = 0; i < dataBytes; i++) out[8 + h.length + i] = (i + 1) & 0xff;
  return out;
}

function expectError(run: () => unknown, code: SafetensorsErrorCode, ...inMessage: string[]): SafetensorsError {
  let caught: unknown;
  try {
    run();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  const error = caught as SafetensorsError;
  expect(error.code, error.message).toBe(code);
  expect(error.message).not.toContain('\n');
  for (const part of inMessage) expect(error.message).toContain(part);
  return error;
}

describe('safetensors round trip', () => {
  it('F32 values come back bit for bit, with shapes and metadata', () => {
    const rng = new Rng(1);
    const a = randomArray(rng, 3 * 5, 10);
    const b = randomArray(rng, 7);
    const scalar = new Float32Array([-0.1]);
    const bytes = writeSafetensors(
      { 'h.0.attn.c_attn.weight': { dtype: 'F32', shape: [3, 5], data: a }, 'ln_f.bias': { dtype: 'F32', shape: [7], data: b }, s: { dtype: 'F32', shape: [], data: scalar } },
      { format: 'pt' },
    );
    const file = parseSafetensors(bytes, 'tiny.safetensors');
    expect(file.metadata).toEqual({ format: 'pt' });
    expect([...file.tensors.keys()].sort()).toEqual(['h.0.attn.c_attn.weight', 'ln_f.bias', 's']);
    expect(file.info('h.0.attn.c_attn.weight')).toMatchObject({ dtype: 'F32', shape: [3, 5] });
    expect(file.getF32('h.0.attn.c_attn.weight')).toEqual(a);
    expect(file.getF32('ln_f.bias')).toEqual(b);
    expect(file.getF32('s')).toEqual(scalar);
    expect(file.info('s').shape).toEqual([]);
  });

  it('getF32 returns a fresh array each time', () => {
    const file = parseSafetensors(writeSafetensors({ x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } }), 'x.safetensors');
    const first = file.getF32('x');
    first[0] = 99;
    expect(file.getF32('x')[0]).toBe(1);
  });

  it('F16 stores the nearest half; getF32 widens it exactly and getF16Bits gives the bits', () => {
    const rng = new Rng(2);
    // include values that are not halves, a subnormal half, and an overflow to infinity
    const values = new Float32Array([...randomArray(rng, 11, 4), 1e-6, 70000, -0.0001]);
    const file = parseSafetensors(writeSafetensors({ w: { dtype: 'F16', shape: [values.length], data: values } }), 'half.safetensors');
    expect(file.info('w').dtype).toBe('F16');
    expect(file.getF32('w')).toEqual(Float32Array.from(values, roundToF16));
    const bits = file.getF16Bits('w');
    expect(bits).toBeInstanceOf(Uint16Array);
    expect([...bits]).toEqual([...values].map(f32ToF16Bits));
    expect(f16BitsToF32(bits[values.length - 2]!)).toBe(Infinity);
  });

  it('BF16 keeps the top 16 bits of the f32, rounded to nearest even', () => {
    const values = new Float32Array([
      1, // exact
      -2.5, // exact
      3.140625, // exact: 0x4049
      1 + 2 ** -8, // halfway between 1 and 1 + 2^-7: ties to even, 1
      1 + 3 * 2 ** -8, // halfway between 1 + 2^-7 and 1 + 2^-6: ties to even, 1 + 2^-6
      1 + 2 ** -8 + 2 ** -20, // just above halfway: rounds up
      -Infinity,
    ]);
    const expected = [1, -2.5, 3.140625, 1, 1 + 2 ** -6, 1 + 2 ** -7, -Infinity];
    const file = parseSafetensors(writeSafetensors({ w: { dtype: 'BF16', shape: [values.length], data: values } }), 'bf16.safetensors');
    expect([...file.getF32('w')]).toEqual(expected);
    expect(file.getBytes('w').length).toBe(2 * values.length);
  });

  it('mixed dtypes in one file are all read back', () => {
    const data = new Float32Array([0.5, -1.5, 2.25]);
    const file = parseSafetensors(
      writeSafetensors({
        a: { dtype: 'F16', shape: [3], data },
        b: { dtype: 'F32', shape: [1, 3], data },
        c: { dtype: 'BF16', shape: [3, 1], data },
      }),
      'mixed.safetensors',
    );
    for (const name of ['a', 'b', 'c']) expect(file.getF32(name)).toEqual(data);
  });
});

describe('safetensors matches the reference implementation', () => {
  // The expected bytes are those of the reference implementation's own serialization tests.
  it('writes the same bytes for an F32 tensor (header padded with spaces to 8-byte alignment)', () => {
    const out = writeSafetensors({ attn0: { dtype: 'F32', shape: [1, 1, 2, 3], data: new Float32Array([0, 1, 2, 3, 4, 5]) } });
    const header = '{"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}}' + ' '.repeat(7);
    const expected = rawFile(header, 0);
    expect(header.length).toBe(72);
    expect([...out.subarray(0, expected.length)]).toEqual([...expected]);
    expect([...out.subarray(expected.length)]).toEqual([...new Uint8Array(new Float32Array([0, 1, 2, 3, 4, 5]).buffer)]);
  });

  it('writes the same bytes for an empty file, with and without metadata', () => {
    expect([...writeSafetensors({})]).toEqual([...rawFile('{}      ', 0)]);
    const withMetadata = writeSafetensors({}, { framework: 'pt' });
    expect([...withMetadata]).toEqual([...rawFile('{"__metadata__":{"framework":"pt"}}     ', 0)]);
    expect(withMetadata[0]).toBe(40);
  });

  it('orders tensors as the reference does: widest dtype first, then by name', () => {
    const one = new Float32Array([1]);
    const file = parseSafetensors(
      writeSafetensors({ z: { dtype: 'F16', shape: [1], data: one }, b: { dtype: 'F32', shape: [1], data: one }, a: { dtype: 'F32', shape: [1], data: one }, m: { dtype: 'BF16', shape: [1], data: one } }),
      'order.safetensors',
    );
    expect([...file.tensors.keys()]).toEqual(['a', 'b', 'm', 'z']);
    expect([...file.tensors.values()].map((t) => t.begin)).toEqual([0, 4, 8, 10]);
  });

  it('reads a reference-written file with metadata and an I32 tensor, which is not readable as floats', () => {
    const header = '{"__metadata__":{"framework":"pt"},"test1":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}       ';
    const bytes = rawFile(header, 16);
    expect(bytes[0]).toBe(0x66); // 'f', as in the reference test
    const file = parseSafetensors(bytes, 'ref.safetensors');
    expect(file.metadata).toEqual({ framework: 'pt' });
    expect(file.info('test1')).toEqual({ dtype: 'I32', shape: [2, 2], begin: 0, end: 16 });
    expect([...file.getBytes('test1')]).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    expectError(() => file.getF32('test1'), 'dtype', 'ref.safetensors', "'test1'", 'I32');
  });
});

describe('safetensors refuses damaged files with a SafetensorsError', () => {
  const good = writeSafetensors({
    'wte.weight': { dtype: 'F32', shape: [5, 3], data: randomArray(new Rng(3), 15) },
    'ln_f.bias': { dtype: 'F16', shape: [3], data: new Float32Array([1, 2, 3]) },
  });
  const headerBytes = Number(new DataView(good.buffer).getBigUint64(0, true));

  it('a file shorter than the length field', () => {
    expectError(() => parseSafetensors(good.subarray(0, 5), 'cut.safetensors'), 'truncated', 'cut.safetensors', 'download it again');
    expectError(() => parseSafetensors(new Uint8Array(0), 'empty.safetensors'), 'truncated');
  });

  it('a file cut inside the header', () => {
    expectError(() => parseSafetensors(good.subarray(0, 8 + headerBytes - 3), 'cut.safetensors'), 'truncated', 'cut.safetensors');
  });

  it('a file cut inside the data', () => {
    const error = expectError(() => parseSafetensors(good.subarray(0, good.length - 1), 'model.safetensors'), 'truncated', 'model.safetensors', 'download it again');
    expect(error.message).toContain(`${15 * 4 + 3 * 2} bytes`); // what the header promises
  });

  it('a header length larger than the file or beyond any real header', () => {
    expectError(() => parseSafetensors(rawFile('{}', 0, 1000), 'a.safetensors'), 'truncated', 'a.safetensors');
    expectError(() => parseSafetensors(rawFile('{}', 0, 2 ** 40), 'b.safetensors'), 'header-size', 'b.safetensors');
    const max = rawFile('{}', 0);
    max.fill(0xff, 0, 8); // 2^64 - 1
    expectError(() => parseSafetensors(max, 'c.safetensors'), 'header-size');
    // a text file is read as a header length of a few quintillion bytes
    expectError(() => parseSafetensors(new TextEncoder().encode('<!DOCTYPE html><html>'), 'page.safetensors'), 'header-size');
  });

  it('a header that is not a JSON object of entries', () => {
    expectError(() => parseSafetensors(rawFile('{"a": {"dtype": "F32",', 0), 'x.safetensors'), 'header-json', 'not JSON');
    expectError(() => parseSafetensors(rawFile('[1, 2]', 0), 'x.safetensors'), 'header-json');
    expectError(() => parseSafetensors(rawFile('null', 0), 'x.safetensors'), 'header-json');
    expectError(() => parseSafetensors(rawFile('{"a": 3}', 0), 'x.safetensors'), 'header-json', "'a'");
    expectError(() => parseSafetensors(rawFile('{"__metadata__": {"n": 3}}', 0), 'x.safetensors'), 'header-json', '__metadata__');
    const notUtf8 = rawFile('{"a":1}', 0);
    notUtf8[9] = 0xff;
    expectError(() => parseSafetensors(notUtf8, 'x.safetensors'), 'header-json', 'UTF-8');
  });

  it('offsets out of range, malformed, or leaving bytes unaccounted for', () => {
    const entry = (name: string, begin: number, end: number) => `"${name}":{"dtype":"U8","shape":[${end - begin}],"data_offsets":[${begin},${end}]}`;
    // the second tensor points far past the data; the first ends at 4: a gap, not a cut download
    expectError(() => parseSafetensors(rawFile(`{${entry('a', 0, 4)},${entry('b', 1000, 1004)}}`, 8), 'x.safetensors'), 'offsets', "'b'", '1000');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0]}}', 4), 'x.safetensors'), 'offsets');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[-4,0]}}', 4), 'x.safetensors'), 'offsets');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"U8","shape":[4],"data_offsets":[0.5,4.5]}}', 5), 'x.safetensors'), 'offsets');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}', 4), 'x.safetensors'), 'offsets', 'end before');
    expectError(() => parseSafetensors(rawFile(`{${entry('a', 0, 4)}}`, 6), 'x.safetensors'), 'offsets', '6 bytes');
  });

  it('overlapping tensors', () => {
    const header = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}';
    expectError(() => parseSafetensors(rawFile(header, 12), 'x.safetensors'), 'overlap', "'a'", "'b'");
    const same = '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}}';
    expectError(() => parseSafetensors(rawFile(same, 8), 'x.safetensors'), 'overlap');
  });

  it('a shape that does not fill its byte range', () => {
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', 8), 'x.safetensors'), 'shape', '12 bytes', '8 bytes');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"F32","shape":[2, -1],"data_offsets":[0,8]}}', 8), 'x.safetensors'), 'shape');
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"F32","shape":"2","data_offsets":[0,8]}}', 8), 'x.safetensors'), 'shape');
    const huge = '{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,8]}}';
    expectError(() => parseSafetensors(rawFile(huge, 8), 'x.safetensors'), 'shape');
  });

  it('an unknown dtype, and a tensor read as a type it is not', () => {
    expectError(() => parseSafetensors(rawFile('{"a":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}', 8), 'x.safetensors'), 'dtype', '"F7"');
    expectError(() => parseSafetensors(rawFile('{"a":{"shape":[2],"data_offsets":[0,8]}}', 8), 'x.safetensors'), 'dtype');
    const ids = parseSafetensors(rawFile('{"ids":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}}', 16), 'ids.safetensors');
    expectError(() => ids.getF32('ids'), 'dtype', 'I64');
    const file = parseSafetensors(good, 'model.safetensors');
    expectError(() => file.getF16Bits('wte.weight'), 'dtype', 'F32');
  });

  it('a tensor that is not there', () => {
    const file = parseSafetensors(good, 'model.safetensors');
    expect(file.has('lm_head.weight')).toBe(false);
    expectError(() => file.getF32('lm_head.weight'), 'missing', 'model.safetensors', "'lm_head.weight'");
  });

  it('random damage never ends in anything but a clean parse or a SafetensorsError', () => {
    const rng = new Rng(4);
    const end = 8 + headerBytes;
    for (let trial = 0; trial < 3000; trial++) {
      const bytes = good.slice(0, trial % 3 === 0 ? rng.int(0, good.length) : good.length);
      const flips = rng.int(1, 3);
      for (let f = 0; f < flips && bytes.length > 0; f++) {
        // most damage goes to the length field and header, where it can mislead the parser
        const at = rng.int(0, Math.min(bytes.length, trial % 4 === 0 ? bytes.length : end) - 1);
        const isDigit = bytes[at]! >= 0x30 && bytes[at]! <= 0x39;
        bytes[at] = isDigit ? 0x30 + rng.int(0, 9) : rng.int(0, 255); // a changed digit keeps the JSON valid
      }
      try {
        const file = parseSafetensors(bytes, 'fuzz.safetensors');
        for (const name of file.tensors.keys()) {
          const info = file.info(name);
          if (info.dtype === 'F32' || info.dtype === 'F16' || info.dtype === 'BF16') {
            const values = file.getF32(name);
            expect(values.length * ({ F32: 4, F16: 2, BF16: 2 } as const)[info.dtype]).toBe(info.end - info.begin);
          }
        }
      } catch (e) {
        if (!(e instanceof SafetensorsError)) throw e;
      }
    }
  });
});
