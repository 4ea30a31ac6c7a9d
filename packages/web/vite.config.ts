// The demo site. It imports the runtime as `wgpt`, resolved here to its TypeScript source (src/index.ts), so the
// dev server needs no build of the library; the only thing added here is the embedded model, served
// at model/ from the repository's weights/ folder (in development by a middleware, in the build as copied files),
// so the 29 MB checkpoint is never duplicated in git.
import { copyFileSync, createReadStream, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type Plugin } from 'vite';

const repo = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const WEIGHTS = join(repo, 'weights');
/** The files of the embedded model folder the browser needs. */
const MODEL_FILES = ['config.json', 'generation_config.json', 'model.safetensors'];
/**
 * Cross-origin isolation: with these two headers a page may use SharedArrayBuffer, which the WebAssembly kernels'
 * worker threads share their memory through (without them the page runs WebAssembly on one thread). Sent by the
 * dev and preview servers, and written to the built site as `_headers` (the format of Netlify and Cloudflare
 * Pages; other hosts need the same two headers in their own configuration).
 */
export const ISOLATION_HEADERS = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

function embeddedModel(): Plugin {
  let outDir = '';
  return {
    name: 'wgpt-embedded-model',
    configResolved(config) {
      outDir = resolve(config.root, config.build.outDir);
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const file = req.url?.split('?')[0]?.replace(/^.*\/model\//, '');
        if (!req.url?.includes('/model/') || !file || !MODEL_FILES.includes(file)) return next();
        const path = join(WEIGHTS, file);
        res.setHeader('content-length', statSync(path).size);
        res.setHeader('content-type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
        createReadStream(path).pipe(res);
      });
    },
    writeBundle() {
      writeFileSync(join(outDir, '_headers'), `/*\n${Object.entries(ISOLATION_HEADERS).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`);
      mkdirSync(join(outDir, 'model'), { recursive: true });
      for (const file of MODEL_FILES) {
        if (!existsSync(join(WEIGHTS, file))) throw new Error(`weights/${file} is missing: run npm run setup to build the embedded model`);
        copyFileSync(join(WEIGHTS, file), join(outDir, 'model', file));
      }
    },
  };
}

export default defineConfig({
  // relative URLs: the built site works from any folder of any static host
  base: './',
  plugins: [embeddedModel()],
  resolve: { alias: { wgpt: join(repo, 'src/index.ts') } },
  server: { fs: { allow: [repo] }, headers: ISOLATION_HEADERS },
  preview: { headers: ISOLATION_HEADERS },
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 4096 },
});
