// The dependency picture, checked: packages/* -> the public API (src/index.ts, imported as `wgpt`) -> src/* ->
// shaders/. This walks the import graph of src/, bench/ and packages/ (import and export-from statements, and
// import() of a literal path), resolves relative paths, and fails on a cycle, on an import that does not resolve,
// and on an import that goes the wrong way.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ENTRY = 'src/index.ts';
const FOLDERS = ['src', 'bench', 'packages/cli/src', 'packages/cli/bin', 'packages/web/src'];

/** `import ... from 'x'`, `import 'x'`, `export ... from 'x'` (across lines), and `import('x')`. */
const STATIC = /(?:^|\n)[ \t]*(?:import|export)\s+(type\s+)?(?:[^'"`;]*?\s+from\s+)?['"]([^'"\n]+)['"]/g;
const DYNAMIC = /\bimport\(()\s*(?:\/\*[^*]*\*\/\s*)?['"]([^'"\n]+)['"]\s*\)/g;

const ASSEMBLY = 'src/backend/wasm/assembly/';

function sourceFiles(folder: string): string[] {
  const dir = join(root, folder);
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(folder, name);
    // AssemblyScript sources compile to WebAssembly, not to modules of this graph
    if (statSync(join(root, path)).isDirectory()) return name === 'assembly' ? [] : sourceFiles(path);
    return /\.(ts|js)$/.test(name) && !name.endsWith('.d.ts') ? [path] : [];
  });
}

interface Edge {
  from: string;
  to: string;
  /** `import type` / `export type`: erased by the compiler, so it orders nothing at run time. */
  typeOnly: boolean;
}

/** Every file's imports, as repository paths; bare package names other than `wgpt` are left out. */
function importEdges(): { files: string[]; edges: Edge[] } {
  const files = FOLDERS.flatMap(sourceFiles);
  const edges = files.flatMap((from) => {
    const text = readFileSync(join(root, from), 'utf8');
    return [...text.matchAll(STATIC), ...text.matchAll(DYNAMIC)].flatMap((m) => {
      const spec = m[2]!;
      const typeOnly = Boolean(m[1]);
      if (spec === 'wgpt') return [{ from, to: ENTRY, typeOnly }];
      if (!spec.startsWith('.')) return [];
      // AssemblyScript (the WebAssembly kernels' sources) imports without the extension, and asc adds `.ts`
      const file = from.startsWith(ASSEMBLY) && !/\.\w+$/.test(spec) ? `${spec}.ts` : spec;
      return [{ from, to: relative(root, resolve(root, dirname(from), file)), typeOnly }];
    });
  });
  return { files, edges };
}

/** The cycles a depth-first walk meets, each as the list of files around it. */
function findCycles(graph: Map<string, string[]>): string[][] {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (state.get(next) === 'open') cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of graph.keys()) if (!state.has(file)) visit(file);
  return cycles;
}

/** from -> to, for the edges given. */
function graphOf(edges: Edge[]): Map<string, string[]> {
  const graph = new Map<string, string[]>(files.map((file) => [file, []]));
  for (const { from, to } of edges) graph.get(from)!.push(to);
  return graph;
}

const { files, edges } = importEdges();
/** What runs: an ES-module cycle is one of these. */
const runtime = graphOf(edges.filter((e) => !e.typeOnly));
const under = (path: string, folder: string) => path.startsWith(`${folder}/`);

describe('the import graph', () => {
  it('covers the library, the bench and both packages', () => {
    for (const file of [ENTRY, 'src/generate.ts', 'bench/harness.ts', 'packages/cli/src/main.ts', 'packages/web/src/main.ts']) {
      expect(files, file).toContain(file);
    }
    expect(edges.length).toBeGreaterThan(200);
  });

  it('resolves every relative import to a file', () => {
    const missing = edges.filter(({ to }) => !existsSync(join(root, to))).map(({ from, to }) => `${from} -> ${to}`);
    expect(missing).toEqual([]);
  });

  it('has no cycles (type-only imports are erased, so they cannot close one)', () => {
    expect(findCycles(runtime).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('finds a cycle when there is one', () => {
    const withCycle = graphOf([...edges, { from: 'src/errors.ts', to: ENTRY, typeOnly: false }]);
    expect(findCycles(withCycle).map((cycle) => cycle.join(' -> '))).toContainEqual(expect.stringContaining('src/errors.ts -> src/index.ts'));
  });

  it('lets packages/* reach src/ and bench/ only through the entry point', () => {
    const wrong = edges
      .filter(({ from }) => under(from, 'packages'))
      .filter(({ to }) => (under(to, 'src') && to !== ENTRY) || under(to, 'bench'))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });

  it('keeps src/ and bench/ below the entry point and the packages', () => {
    const wrong = edges
      .filter(({ from }) => under(from, 'src') || under(from, 'bench'))
      .filter(({ from, to }) => under(to, 'packages') || (to === ENTRY && from !== ENTRY) || (under(to, 'bench') && under(from, 'src') && from !== ENTRY))
      .map(({ from, to }) => `${from} -> ${to}`);
    expect(wrong).toEqual([]);
  });
});
