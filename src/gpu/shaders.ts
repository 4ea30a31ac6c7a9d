// WGSL sources live in shaders/: one kernel version per file, and in shaders/lib/ the pieces several kernels share
// (weight loaders, half unpacking, workgroup reductions). A kernel asks for its file by name and gives its
// compile-time constants. Assembling a shader takes three steps, in this order:
//
//   1. `#include "lib/half.wgsl"` lines are replaced by that file's text (paths are relative to shaders/). An
//      included file may include others; each file is pasted once, at its first include, so two libraries can
//      share a third. An include stands at the top level of a file, outside any #if block.
//   2. `${NAME}` placeholders are filled from the constants, which must all be given; every value is checked here,
//      in TypeScript, so a shader never compiles with a missing or malformed constant.
//   3. `#if ${NAME}` blocks are resolved by wgsl-preprocessor.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

export type ShaderConstants = Record<string, number | boolean>;

const sources = new Map<string, string>();

/**
 * The browser build registers the shader files it bundled, by their path below shaders/ ('matmul.v2.wgsl',
 * 'lib/half.wgsl'). Node reads them from disk on demand.
 */
export function registerShaderSources(files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) sources.set(name, text);
}

/** The text of shaders/<name>, or undefined when there is no such file. */
function readShader(name: string): string | undefined {
  const known = sources.get(name);
  if (known !== undefined) return known;
  if (typeof process === 'undefined' || !process.getBuiltinModule) {
    throw new Error(`shader ${name} was not registered: call registerShaderSources() with the bundled shaders/`);
  }
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  const url = new URL(/* @vite-ignore */ `../../shaders/${name}`, import.meta.url);
  if (!fs.existsSync(url)) return undefined;
  const text = fs.readFileSync(url, 'utf8');
  sources.set(name, text);
  return text;
}

const INCLUDE = /^[ \t]*#include[ \t]+"([^"]+)"[ \t]*$/;

/** The text of shader `name` with its #include lines expanded (step 1 above). */
export function expandIncludes(name: string): string {
  const text = readShader(name);
  if (text === undefined) throw new Error(`shader ${name} does not exist in shaders/`);
  return expand(name, text, new Set([name]));
}

function expand(name: string, text: string, seen: Set<string>): string {
  let depth = 0; // of #if blocks
  return text
    .split('\n')
    .map((line) => {
      const directive = line.trimStart();
      if (directive.startsWith('#if')) depth++;
      else if (directive.startsWith('#endif')) depth--;
      const include = INCLUDE.exec(line)?.[1];
      if (include === undefined) {
        if (directive.startsWith('#include')) throw new Error(`shader ${name}: write an include as #include "lib/<file>.wgsl", not ${directive}`);
        return line;
      }
      if (depth > 0) throw new Error(`shader ${name}: #include "${include}" stands inside an #if block; move it to the top level`);
      if (seen.has(include)) return '';
      seen.add(include);
      const included = readShader(include);
      if (included === undefined) throw new Error(`shader ${name} includes "${include}", which does not exist in shaders/`);
      return expand(include, included, seen);
    })
    .join('\n');
}

const PLACEHOLDER = /\$\{(\w+)\}/g;

/** The WGSL text of `name` with its includes expanded, `constants` substituted and #if blocks resolved. */
export function assembleShader(name: string, constants: ShaderConstants = {}): string {
  const text = expandIncludes(name);
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
