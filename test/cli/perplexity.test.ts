// `wgpt perplexity` as a user runs it: a subprocess on the embedded model (context 256), on WebAssembly.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { perplexityWindows } from '../../src/perplexity.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { expectUsageError, json, wgpt } from './wgpt.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-perplexity-'));
const TEXT = [
  'ROMEO:',
  'But, soft! what light through yonder window breaks?',
  'It is the east, and Juliet is the sun.',
  'Arise, fair sun, and kill the envious moon,',
  'Who is already sick and pale with grief,',
  'That thou her maid art far more fair than she.',
  '',
  'JULIET:',
  'O Romeo, Romeo! wherefore art thou Romeo?',
  'Deny thy father and refuse thy name;',
  "Or, if thou wilt not, be but sworn my love,",
  "And I'll no longer be a Capulet.",
  '',
].join('\n');
const file = join(dir, 'verona.txt');
writeFileSync(file, TEXT);
const tokens = gpt2Tokenizer().encode(TEXT).length;
const FAST = ['--device', 'wasm', '--context', '48', '--stride', '16'];

describe('wgpt perplexity', () => {
  it('--json holds the figures: every token but the first scored once, in the windows the stride makes', async () => {
    const out = json(await wgpt(['perplexity', '--file', file, ...FAST, '--json']));
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['ppl', 'nll_mean', 'tokens', 'tokens_scored', 'windows', 'context', 'stride', 'weights', 'device', 'seconds', 'model', 'file']));
    expect(out.tokens).toBe(tokens);
    expect(out.tokens_scored).toBe(tokens - 1);
    expect(out.windows).toBe(perplexityWindows(tokens, 48, 16));
    expect(out.windows).toBeGreaterThan(3);
    expect([out.context, out.stride, out.weights, out.device]).toEqual([48, 16, 'f32', 'wasm']);
    expect(out.ppl).toBeCloseTo(Math.exp(out.nll_mean), 8);
    // a model trained on Shakespeare reads Shakespeare far better than chance (a vocabulary of 50257), and not perfectly
    expect(out.ppl).toBeGreaterThan(2);
    expect(out.ppl).toBeLessThan(2000);
    expect(out.seconds).toBeGreaterThan(0);
    expect(out.characters).toEqual([0, TEXT.length]);

    const f16 = json(await wgpt(['perplexity', '--file', file, ...FAST, '--json', '--weights', 'f16']));
    expect(f16.weights).toBe('f16');
    expect(f16.tokens_scored).toBe(out.tokens_scored);
    // f16 rounds every weight by at most 2^-11 relative: the figure moves, by well under 1%
    expect(Math.abs(f16.ppl / out.ppl - 1)).toBeLessThan(0.01);
  }, 120_000);

  it('prints the perplexity with the token count, the same figure --json gives; --from picks the end of the file', async () => {
    const run = await wgpt(['perplexity', '-f', file, ...FAST, '--from', '0.5']);
    expect(run.code, run.stderr).toBe(0);
    const begin = Math.floor(0.5 * TEXT.length);
    const part = gpt2Tokenizer().encode(TEXT.slice(begin)).length;
    expect(run.stdout).toContain(`(characters ${begin}..${TEXT.length} of ${TEXT.length}): ${part} tokens`);
    expect(run.stdout).toContain(`${part - 1} tokens scored, each once`);
    expect(run.stdout).toMatch(/^perplexity: +\d+\.\d{4}$/m);
    const out = json(await wgpt(['perplexity', '-f', file, ...FAST, '--from', '0.5', '--json']));
    expect(out.tokens).toBe(part);
    expect(out.characters).toEqual([begin, TEXT.length]);
    expect(Number(/^perplexity: +([\d.]+)$/m.exec(run.stdout)![1])).toBeCloseTo(out.ppl, 3);
    expect(run.stderr).toBe(''); // no progress line when stderr is not a terminal
  }, 120_000);

  it('a file shorter than one window is one window', async () => {
    const out = json(await wgpt(['perplexity', '--file', file, '--device', 'wasm', '--json']));
    expect([out.windows, out.context, out.stride, out.tokens_scored]).toEqual([1, 256, 128, tokens - 1]);
  }, 120_000);

  it('refuses bad input in one line: no file, a missing file, a folder, an empty file, one token', async () => {
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const one = join(dir, 'one.txt');
    writeFileSync(one, 'the');
    expectUsageError(await wgpt(['perplexity']), /needs --file <path>: the text file to score/);
    expectUsageError(await wgpt(['perplexity', '--file', join(dir, 'nope.txt')]), /--file .*nope\.txt: no such file; give the path of a text file to score/);
    expectUsageError(await wgpt(['perplexity', '--file', dir]), /is a folder; give the path of a text file/);
    expectUsageError(await wgpt(['perplexity', '--file', empty]), /empty\.txt is empty: there is nothing to score/);
    expectUsageError(await wgpt(['perplexity', '--file', one, '--device', 'wasm']), /one\.txt is 1 token: perplexity needs at least 2/);
  }, 120_000);

  it('refuses a bad --context, --stride, --from and --to in one line that names the range', async () => {
    expectUsageError(await wgpt(['perplexity', '--file', file, '--context', '1']), /--context must be a whole number >= 2, got 1/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--context', 'abc']), /--context must be a whole number >= 2, got "abc"/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--context', '999', '--device', 'wasm']), /--context must be at most 256 \(the model's context\), got 999/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--context', '64', '--stride', '64']), /--stride must be below --context \(64\)/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--stride', '256', '--device', 'wasm']), /--stride must be below the context \(256 tokens\)/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--from', '1.5']), /--from must be a number in \[0, 1\], got 1\.5/);
    expectUsageError(await wgpt(['perplexity', '--file', file, '--from', '0.6', '--to', '0.4']), /--from \(0\.6\) must be below --to \(0\.4\)/);
  }, 120_000);
});

describe('--weights', () => {
  it.each([
    ['perplexity', '--file', file],
    ['generate', 'ROMEO:'],
    ['lab', 'logit-lens'],
  ])('an unknown format names the formats there are (wgpt %s)', async (...args) => {
    expectUsageError(await wgpt([...args, '--weights', 'q3']), /^wgpt: --weights must be f32, f16, q8 or q4, got "q3"$/);
  });
});
