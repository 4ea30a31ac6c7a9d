// Vitest global setup: the CLI tests run the `wgpt` command, which runs the compiled JavaScript in dist/. Build it
// first when it is missing or older than any source it is compiled from, so the tests never run stale code.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** What the build compiles (tsconfig.build.json), and the files that decide how. */
const SOURCES = ['src', 'bench', 'packages/cli/src', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.js'];

function newestChange(path: string): number {
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(path).map((name) => newestChange(join(path, name))));
}

export default function setup(): void {
  const stamp = join(root, 'dist/.built');
  const built = existsSync(stamp) ? statSync(stamp).mtimeMs : 0;
  if (SOURCES.every((path) => newestChange(join(root, path)) < built)) return;
  process.stderr.write('dist/ is older than the sources: npm run build\n');
  execFileSync(process.execPath, [join(root, 'scripts/build.js')], { cwd: root, stdio: 'inherit' });
}
