// Turning command-line strings into checked values, with one-line errors that name the option.
import { WEIGHT_FORMATS, type WeightFormat } from 'wgpt';
import { CliError } from './command.ts';

export function toList(value: unknown): string[] {
  if (value === undefined || value === false) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** The values a numeric option accepts; `note` says what a special value means ("0: off"). */
export interface NumberRange {
  min?: number;
  max?: number;
  integer?: boolean;
  minExclusive?: boolean;
  note?: string;
}

/** `--name`'s value as a number in `range`; any other value is a one-line error that names the range. */
export function toNumber(name: string, value: unknown, range: NumberRange = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  const { min, max } = range;
  const inRange =
    Number.isFinite(n) &&
    typeof value !== 'boolean' &&
    String(value).trim() !== '' &&
    !(range.integer && !Number.isInteger(n)) &&
    !(min !== undefined && (range.minExclusive ? n <= min : n < min)) &&
    !(max !== undefined && n > max);
  if (!inRange) {
    const given = typeof value === 'boolean' ? 'nothing' : Number.isFinite(n) && String(value).trim() !== '' ? String(value) : JSON.stringify(String(value));
    throw new CliError(`${name.startsWith('-') || name.includes(' ') ? name : `--${name}`} must be ${describeRange(range)}, got ${given}`);
  }
  return n;
}

/** "a whole number >= 0 (0: off)", "a number in (0, 1]", "any number". */
export function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'a whole number' : 'a number';
  const note = r.note ? ` (${r.note})` : '';
  if (r.min !== undefined && r.max !== undefined) return `${kind} in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}]${note}`;
  if (r.min !== undefined) return `${kind} ${r.minExclusive ? '>' : '>='} ${r.min}${note}`;
  if (r.max !== undefined) return `${kind} <= ${r.max}${note}`;
  return `${r.integer ? 'a whole number' : 'any number'}${note}`;
}

export const OFFLINE_OPTION = ['--offline', 'Use only models already in the cache, never download (as HF_HUB_OFFLINE=1)'] as const;

export const DEVICE_OPTION = ['--device <webgpu|wasm|auto>', 'Run on WebGPU or on WebAssembly (the CPU); auto (default): a hardware WebGPU adapter if there is one, else WebAssembly', { default: 'auto' }] as const;

/** --device's value: auto, webgpu or wasm; anything else is a one-line error. */
export function toDevice(value: unknown): 'auto' | 'webgpu' | 'wasm' {
  const device = value === undefined ? 'auto' : String(value);
  if (device === 'auto' || device === 'webgpu' || device === 'wasm') return device;
  throw new CliError(`--device must be webgpu, wasm or auto, got "${device}"`);
}

export const WEIGHTS_OPTION = ['--weights <format>', 'Weights on the device: f32, f16 (packed halves), q8 or q4 (blocks of 32 integers with a scale, quantized at load)', { default: 'f32' }] as const;

/** --weights's value: one of WEIGHT_FORMATS; anything else is a one-line error naming them. */
export function toWeights(value: unknown): WeightFormat {
  const weights = value === undefined ? 'f32' : String(value);
  if ((WEIGHT_FORMATS as readonly string[]).includes(weights)) return weights as WeightFormat;
  throw new CliError(`--weights must be ${orList(WEIGHT_FORMATS)}, got "${weights}"`);
}

/** "a, b or c". */
function orList(items: readonly string[]): string {
  return items.length < 2 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}
