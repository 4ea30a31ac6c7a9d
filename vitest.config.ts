import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // tests import src/ directly; `wgpt` (the public API) is its source too, as in the demo site
  resolve: { alias: { wgpt: fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    // the CLI tests run the compiled command: build dist/ when the sources changed since the last build
    globalSetup: ['test/build-setup.ts'],
    // The software adapter is slow and uses both cores; one file at a time keeps timings sane.
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
