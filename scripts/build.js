// `npm run build` (also run by `npm ci`/`npm install`, through the `prepare` script): compile the library (src/),
// the bench harness (bench/) and the CLI (packages/cli/src) to JavaScript in dist/, so nothing compiles TypeScript
// at run time. dist/src/index.js is the package's entry point (`import ... from 'wgpt'`).
//
// A compiled module sits one folder deeper than its source (src/gpu/shaders.ts -> dist/src/gpu/shaders.js), and a
// few modules read files beside the code by relative path (shaders/, weights/, bench/results/). dist/ links to
// those folders, so the same relative paths work from the sources and from the build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
/** Folders read by relative path from compiled modules: dist/<path> links to <path>. */
const LINKED = ['shaders', 'weights', 'bench/results', 'build/wasm'];
/** Files read beside their module (the WebAssembly worker thread, the PyTorch peer of the bench): copied as they are. */
const COPIED = ['src/backend/wasm/worker.js', 'bench/peers.py'];

rmSync(dist, { recursive: true, force: true }); // a clean build: no module of a deleted source survives
const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) {
  console.error('build: tsc failed (see above); dist/ is incomplete');
  process.exit(tsc.status ?? 1);
}
for (const path of LINKED) {
  mkdirSync(join(root, path), { recursive: true });
  const link = join(dist, path);
  mkdirSync(dirname(link), { recursive: true });
  symlinkSync(relative(dirname(link), join(root, path)), link, 'dir');
}
for (const path of COPIED) copyFileSync(join(root, path), join(dist, path));
// what the test setup compares with the sources' modification times to tell whether dist/ is current
writeFileSync(join(dist, '.built'), `${new Date().toISOString()}\n`);
