// wgpt as a library, used the way its README says: in an empty folder outside the repository,
// `npm install <path to the repository>` (a local folder: npm links it, no network), then a plain Node ES module
// imports `wgpt` by name and generates text with the embedded model. It runs the compiled JavaScript of dist/
// (no TypeScript loader), and must give the tokens the sources give in this process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.ts';
import { openModel } from '../../src/runtime.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const NEW_TOKENS = 8;

const PROGRAM = `import { openModel, generate } from 'wgpt';

const { model, tokenizer } = await openModel(undefined); // the embedded model
const result = await generate(model, tokenizer, 'ROMEO:', { temperature: 0, maxNewTokens: ${NEW_TOKENS} });
console.log(JSON.stringify({ tokens: result.tokens, text: result.text, entry: import.meta.resolve('wgpt') }));
model.destroy();
`;

describe('npm install of a clone, then import from wgpt', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wgpt-user-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates with the embedded model from a plain node module', { timeout: 600_000 }, async () => {
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', root], { cwd: dir, stdio: 'pipe' });
    writeFileSync(join(dir, 'main.mjs'), PROGRAM);
    const out = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8' })) as { tokens: number[]; text: string; entry: string };
    expect(fileURLToPath(out.entry)).toBe(join(root, 'dist/src/index.js'));

    const { model, tokenizer } = await openModel(undefined);
    const expected = await generate(model, tokenizer, 'ROMEO:', { temperature: 0, maxNewTokens: NEW_TOKENS });
    model.destroy();
    expect(out.tokens).toHaveLength(NEW_TOKENS);
    expect(out.tokens).toEqual(expected.tokens);
    expect(out.text).toBe(expected.text);
  });
});
