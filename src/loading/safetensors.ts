// The safetensors format (Hugging Face's file for model weights), read and written without dependencies.
//
//   bytes [0, 8)        N, the header length: u64, little-endian
//   bytes [8, 8 + N)    the header: a UTF-8 JSON object, padded with spaces so the data starts 8-byte aligned
//                         { "__metadata__": { "format": "pt" },                  (optional, strings only)
//                           "wte.weight": { "dtype": "F32", "shape": [50257, 768], "data_offsets": [0, 154389504] },
//                           ... }
//   bytes [8 + N, end)  the data section: every tensor's elements, row-major, little-endian, back to back
//
// `data_offsets` count from the start of the data section. The reference implementation requires the tensors to
// tile the data section exactly (sorted by offset, each starting where the previous ended, the last ending at the
// end of the file); parseSafetensors checks the same, so a cut or corrupt file is caught when it is opened and a
// read never returns garbage.
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../half.ts';

/** Element types of the format, with their sizes in bytes. */
export const DTYPE_BYTES = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  F64: 8,
  I64: 8,
  U64: 8,
} as const;

export type Dtype = keyof typeof DTYPE_BYTES;

/** The dtypes `getF32` converts; the others (token ids, masks, ...) are reachable only as raw bytes. */
export const FLOAT_DTYPES: readonly Dtype[] = ['F32', 'F16', 'BF16'];

/** Where one tensor lives: `begin` and `end` are byte offsets into the data section. */
export interface TensorInfo {
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

export type SafetensorsErrorCode =
  | 'truncated' // the file is shorter than its header says: a download was cut
  | 'header-size' // the first 8 bytes are not a plausible header length: not a safetensors file
  | 'header-json' // the header is not a JSON object of tensor entries
  | 'offsets' // a tensor's data_offsets are malformed or leave a gap
  | 'overlap' // two tensors share bytes
  | 'shape' // a shape is malformed or does not fit its byte range
  | 'dtype' // an unknown dtype, or a tensor read as a type it is not
  | 'missing' // a tensor (or shard) that should be there is not
  | 'index'; // a sharded checkpoint's model.safetensors.index.json is malformed

export class SafetensorsError extends Error {
  override name = 'SafetensorsError';
  constructor(
    readonly code: SafetensorsErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The reference implementation refuses headers above 100 MB; so do we (a real one is a few hundred kB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** "N bytes", with the size in MB alongside when it is large. */
export function formatBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB (${n} bytes)` : `${n} bytes`;
}

const REDOWNLOAD = 'download it again';

/**
 * What a checkpoint quantized by another tool (GPTQ, AWQ, bitsandbytes, FP8, ...) is told: wgpt reads float weights
 * and quantizes them itself as it loads them (src/quant.ts).
 */
export const QUANTIZE_AT_LOAD = 'wgpt reads float checkpoints (F32, F16, BF16) and quantizes them as it loads: use the unquantized checkpoint with --weights q8 or q4';

/** A parsed safetensors file: the header's tensor table and the data section it points into. */
export class SafetensorsFile {
  constructor(
    /** Where the bytes came from, for error messages (a file path). */
    readonly source: string,
    /** Every tensor in the file, in the order the header lists them. */
    readonly tensors: Map<string, TensorInfo>,
    /** The optional `__metadata__` string map (e.g. { format: 'pt' }). */
    readonly metadata: Record<string, string>,
    /** The data section; TensorInfo offsets index into it. */
    private readonly data: Uint8Array,
  ) {}

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) {
      throw new SafetensorsError('missing', `${this.source} has no tensor '${name}': the file does not hold the weights this model needs`);
    }
    return info;
  }

  /** The tensor's raw little-endian bytes, any dtype. A view into the file: copy it before changing it. */
  getBytes(name: string): Uint8Array {
    const { begin, end } = this.info(name);
    return this.data.subarray(begin, end);
  }

  /** The tensor as a fresh Float32Array (F16 and BF16 are widened exactly; F32 is copied). */
  getF32(name: string): Float32Array {
    const info = this.info(name);
    const bytes = this.getBytes(name);
    // slice() copies into a new, aligned ArrayBuffer; typed arrays read it in host byte order, which is
    // little-endian on every machine WebGPU runs on, the same as the file.
    switch (info.dtype) {
      case 'F32':
        return new Float32Array(bytes.slice().buffer);
      case 'F16':
        return f16ToF32(new Uint16Array(bytes.slice().buffer));
      case 'BF16':
        return bf16ToF32(new Uint16Array(bytes.slice().buffer));
      default:
        throw this.wrongDtype(name, info.dtype, `floats (${FLOAT_DTYPES.join(', ')})`);
    }
  }

  /** An F16 tensor's bit patterns, one u16 per element, so it can be uploaded packed without a round trip. */
  getF16Bits(name: string): Uint16Array {
    const info = this.info(name);
    if (info.dtype !== 'F16') throw this.wrongDtype(name, info.dtype, 'F16');
    return new Uint16Array(this.getBytes(name).slice().buffer);
  }

  private wrongDtype(name: string, dtype: Dtype, wanted: string): SafetensorsError {
    return new SafetensorsError('dtype', `${this.source}: tensor '${name}' is ${dtype} but was read as ${wanted}: this tensor cannot be used as weights`);
  }
}

/** Every f16 bit pattern's value, built on first use: widening a tensor is then one table look-up per element. */
let f16Table: Float32Array | undefined;

function f16ToF32(bits: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = f16Table[bits[i]!]!;
  return out;
}

/** A bf16 is the top half of an f32: shift the bits up and the value is exact (what half.ts's bf16BitsToF32 does). */
function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i]! << 16;
  return new Float32Array(out.buffer);
}

// ---------------------------------------------------------------------------------------------------------------
// Reading

/**
 * Parse and validate a whole safetensors file. `source` names it in errors. Every structural problem is a
 * SafetensorsError; once this returns, every tensor's bytes are inside the file and match its dtype and shape.
 */
export function parseSafetensors(bytes: Uint8Array, source: string): SafetensorsFile {
  if (bytes.length < 8) {
    throw new SafetensorsError('truncated', `${source} is truncated: it has ${bytes.length} bytes, fewer than the 8-byte header length; ${REDOWNLOAD}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerBytes = view.getBigUint64(0, true);
  if (headerBytes > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      'header-size',
      `${source} is not a safetensors file: its first 8 bytes give a header of ${headerBytes} bytes, more than the ${MAX_HEADER_BYTES} allowed; check the file name, or ${REDOWNLOAD}`,
    );
  }
  const n = Number(headerBytes);
  if (8 + n > bytes.length) {
    throw new SafetensorsError('truncated', `${source} is truncated: its header should be ${formatBytes(n)} but the file has only ${formatBytes(bytes.length)}; ${REDOWNLOAD}`);
  }

  const header = parseHeaderJson(bytes.subarray(8, 8 + n), source);
  const data = bytes.subarray(8 + n);
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') metadata = parseMetadata(entry, source);
    else tensors.set(name, parseTensorEntry(name, entry, source));
  }
  checkTiling(tensors, data.length, source);
  return new SafetensorsFile(source, tensors, metadata, data);
}

function corrupt(code: SafetensorsErrorCode, source: string, what: string): SafetensorsError {
  return new SafetensorsError(code, `${source} is not a valid safetensors file: ${what}; ${REDOWNLOAD} or re-export it`);
}

function parseHeaderJson(headerBytes: Uint8Array, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(headerBytes);
  } catch {
    throw corrupt('header-json', source, 'its header is not UTF-8 text');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw corrupt('header-json', source, `its header is not JSON (${(e as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw corrupt('header-json', source, 'its header is not a JSON object');
  }
  return json as Record<string, unknown>;
}

function parseMetadata(entry: unknown, source: string): Record<string, string> {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw corrupt('header-json', source, '__metadata__ is not an object');
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry)) {
    if (typeof value !== 'string') throw corrupt('header-json', source, `__metadata__.${key} is not a string`);
    metadata[key] = value;
  }
  return metadata;
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** One header entry: checks the dtype is known, the shape and offsets are counts, and the sizes agree. */
function parseTensorEntry(name: string, entry: unknown, source: string): TensorInfo {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw corrupt('header-json', source, `the entry for tensor '${name}' is not an object`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    // a dtype newer than this reader (F4, F8_E8M0, ...) is most often another tool's quantized weights
    throw new SafetensorsError(
      'dtype',
      `${source}: tensor '${name}' has dtype ${JSON.stringify(dtype)}, which wgpt does not read (it knows ${Object.keys(DTYPE_BYTES).join(', ')}); if the checkpoint is quantized, ${QUANTIZE_AT_LOAD}; otherwise ${REDOWNLOAD}`,
    );
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw corrupt('shape', source, `tensor '${name}' has shape ${JSON.stringify(shape)}, not a list of sizes`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw corrupt('offsets', source, `tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, not a pair of byte offsets`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) throw corrupt('offsets', source, `tensor '${name}' has data_offsets [${begin}, ${end}], which end before they begin`);
  const elementBytes = DTYPE_BYTES[dtype as Dtype];
  // the product may exceed 2^53 in a corrupt header; it then cannot equal end - begin, which is all we ask of it
  const bytes = (shape as number[]).reduce((a, d) => a * d, elementBytes);
  if (bytes !== end - begin) {
    throw corrupt(
      'shape',
      source,
      `tensor '${name}' is ${dtype} [${shape.join(', ')}], ${bytes} bytes, but its data_offsets [${begin}, ${end}] hold ${end - begin} bytes`,
    );
  }
  return { dtype: dtype as Dtype, shape: shape as number[], begin, end };
}

/** Sorted by offset, the tensors must cover the data section exactly: no overlap, no gap, nothing past the end. */
function checkTiling(tensors: Map<string, TensorInfo>, dataBytes: number, source: string): void {
  const sorted = [...tensors].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let covered = 0; // bytes [0, covered) belong to the tensors seen so far
  let previous = '';
  for (const [name, { begin, end }] of sorted) {
    if (begin < covered) {
      throw corrupt('overlap', source, `tensors '${previous}' and '${name}' overlap (the first ends at data byte ${covered}, the second begins at ${begin})`);
    }
    if (begin > covered) {
      throw corrupt('offsets', source, `tensor '${name}' begins at data byte ${begin} but the tensors before it end at ${covered}, leaving a gap`);
    }
    covered = end;
    previous = name;
  }
  if (covered > dataBytes) {
    throw new SafetensorsError('truncated', `${source} is truncated: the header says ${formatBytes(covered)} of tensor data but the file has ${formatBytes(dataBytes)}; ${REDOWNLOAD}`);
  }
  if (covered < dataBytes) {
    throw corrupt('offsets', source, `the header accounts for ${formatBytes(covered)} of tensor data but the file holds ${formatBytes(dataBytes)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writing

export interface TensorToWrite {
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  /** The values, row-major; F16 and BF16 are rounded to nearest even when written. */
  data: Float32Array;
}

/**
 * Serialize tensors as a safetensors file, byte for byte what the reference implementation writes for the
 * same tensors: entries sorted by dtype (widest first) then name, data back to back in that order, header
 * padded with spaces to a multiple of 8 bytes so every tensor starts 8-byte aligned.
 */
export function writeSafetensors(tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): Uint8Array {
  const entries = Object.entries(tensors).sort(
    ([nameA, a], [nameB, b]) => DTYPE_ORDER[b.dtype] - DTYPE_ORDER[a.dtype] || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0),
  );
  // the header is built piece by piece so its key order is the data order (a JS object would move keys like "0")
  const parts: string[] = [];
  if (metadata) parts.push(`"__metadata__":${JSON.stringify(metadata)}`);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, d) => a * d, 1);
    if (!t.shape.every(isCount) || count !== t.data.length) {
      throw new SafetensorsError('shape', `writeSafetensors: tensor '${name}' has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    }
    const chunk = encode(t);
    parts.push(`${JSON.stringify(name)}:${JSON.stringify({ dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + chunk.length] })}`);
    chunks.push(chunk);
    offset += chunk.length;
  }
  let header = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = new Uint8Array(Math.ceil(header.length / 8) * 8).fill(0x20); // 0x20 = ' '
  padded.set(header);
  header = padded;

  const out = new Uint8Array(8 + header.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  let at = 8 + header.length;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

/** The reference writer's dtype order (its enum order: wider alignment later); it writes the highest first. */
const DTYPE_ORDER: Record<TensorToWrite['dtype'], number> = { F16: 0, BF16: 1, F32: 2 };

function encode(t: TensorToWrite): Uint8Array {
  if (t.dtype === 'F32') return new Uint8Array(t.data.slice().buffer);
  const toBits = t.dtype === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
  const bits = new Uint16Array(t.data.length);
  for (let i = 0; i < bits.length; i++) bits[i] = toBits(t.data[i]!);
  return new Uint8Array(bits.buffer);
}
