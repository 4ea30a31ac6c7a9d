// WGSL sources live in shaders/*.wgsl. A kernel asks for one by file name and gives its compile-time
// constants; `${NAME}` placeholders in the file are filled from them and `#if ${NAME}` blocks are resolved by
// wgsl-preprocessor. Every placeholder must be given and every value is checked here, in TypeScript, so a
// shader never compiles with a missing or malformed constant.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type ShaderConstants = Record<string, number | boolean>;

const sources = new Map<string, string>();

/** The browser build registers the shader files it bundled (Node reads them from disk on demand). */
export function registerShaderSources(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) sources.set(name, text);
}

function readShader(name: string): string {
  const known = sources.get(name);
  if (known !== undefined) return known;
  if (typeof process === 'undefined' || !process.getBuiltinModule) {
    throw new Error(`shader ${name} was not registered: call registerShaderSources() with the bundled shaders/`);
  }
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  const text = fs.readFileSync(new URL(/* @vite-ignore */ `../../shaders/${name}`, import.meta.url), 'utf8');
  sources.set(name, text);
  return text;
}

const PLACEHOLDER = /\$\{(\w+)\}/g;

/** The WGSL text of `name` with `constants` substituted and #if blocks resolved. */
export function assembleShader(name: string, constants: ShaderConstants = {}): string {
  const text = readShader(name);
  const strings: string[] = [];
  const values: (number | boolean)[] = [];
  let last = 0;
  for (const match of text.matchAll(PLACEHOLDER)) {
    const key = match[1]!;
    if (!(key in constants)) throw new Error(`shader ${name} needs the constant ${key}`);
    const value = constants[key]!;
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`shader ${name}: constant ${key} is ${value}`);
    strings.push(text.slice(last, match.index));
    values.push(value);
    last = match.index! + match[0].length;
  }
  strings.push(text.slice(last));
  const raw = Object.assign([...strings], { raw: strings }) as unknown as TemplateStringsArray;
  return wgsl(raw, ...values.map(formatConstant));
}

/** Integers print as integers (`64`), other numbers with a decimal point so WGSL reads them as f32. */
function formatConstant(value: number | boolean): number | boolean | string {
  if (typeof value === 'boolean') return value;
  if (Number.isInteger(value)) return value;
  return value.toPrecision(9);
}
