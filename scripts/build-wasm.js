// `npm run build:wasm`: the WebAssembly kernels (src/backend/wasm/assembly/) in four builds, each an asconfig.json
// target: for a plain or a shared memory (worker threads need the shared one), with SIMD128 alone or with relaxed
// SIMD too (src/backend/wasm/module.ts loads the relaxed build where the runtime validates it). Two at a time.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const asc = join(root, 'node_modules/assemblyscript/bin/asc.js');
const TARGETS = ['plain', 'shared', 'relaxed', 'shared-relaxed'];

function build(target) {
  return new Promise((resolve, reject) => {
    const args = [asc, 'src/backend/wasm/assembly/index.ts', '--config', 'src/backend/wasm/assembly/asconfig.json', '--target', target];
    const child = spawn(process.execPath, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`build:wasm: the ${target} build failed (see above)`))));
  });
}

try {
  for (let i = 0; i < TARGETS.length; i += 2) await Promise.all(TARGETS.slice(i, i + 2).map(build));
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
