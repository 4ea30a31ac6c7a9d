// Turning command-line strings into checked values, with one-line errors that name the option.
import { CliError } from './command.ts';

export function toList(value: unknown): string[] {
  if (value === undefined || value === false) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

export function toNumber(name: string, value: unknown, check?: { min?: number; max?: number; integer?: boolean; minExclusive?: boolean }): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (typeof value === 'boolean' || String(value).trim() === '' || !Number.isFinite(n)) {
    throw new CliError(`--${name} needs a number, got "${value}"`);
  }
  if (check?.integer && !Number.isInteger(n)) throw new CliError(`--${name} needs a whole number, got ${n}`);
  const { min, max } = check ?? {};
  if (min !== undefined && (check?.minExclusive ? n <= min : n < min)) {
    throw new CliError(`--${name} must be ${check?.minExclusive ? 'greater than' : 'at least'} ${min}, got ${n}`);
  }
  if (max !== undefined && n > max) throw new CliError(`--${name} must be at most ${max}, got ${n}`);
  return n;
}
