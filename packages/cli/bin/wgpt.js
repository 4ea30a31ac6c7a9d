#!/usr/bin/env node
// The `wgpt` command: the compiled CLI in dist/ (`npm run build`, which `npm ci` runs).
let main;
try {
  ({ main } = await import('../../../dist/packages/cli/src/main.js'));
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND' || !String(e.message).includes('dist/packages/cli/src/main.js')) throw e;
  console.error('wgpt: the CLI is not built yet: run `npm run build` (or `npm run setup`) at the top of the repository');
  process.exit(2);
}
// `wgpt generate ... | head`: the reader left; stop quietly, as other command-line tools do, instead of a stack trace
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});
process.exitCode = await main(process.argv.slice(2));
