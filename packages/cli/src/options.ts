// Turning command-line strings into checked values, with one-line errors that name the option.
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
