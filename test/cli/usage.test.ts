// The CLI as users of HF generate() and llama.cpp expect it, as subprocesses on the embedded model (context 256):
// beam search prints its text, option values are taken as written, every number names its range, prompts that do
// not fit, fresh seeds, "did you mean", lab experiment checks and bench progress.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkExperiment, EXPERIMENT_FORMAT, parseExperiment } from '../../src/labs/experiment.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { expectUsageError, json, wgpt } from './wgpt.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-usage-'));
const N_CTX = 256; // weights/config.json

describe('beam search', () => {
  it('prints the prompt and its text, as --json reports it, with a prefill time and the seed in --stats', async () => {
    const args = ['generate', 'JULIET:', '--beams', '3', '--max-new-tokens', '5'];
    const out = json(await wgpt([...args, '--json']));
    expect(out.tokens.length).toBeGreaterThan(0);
    expect(out.text).toBe(gpt2Tokenizer().decode(out.tokens));
    expect(out.steps).toHaveLength(out.tokens.length);
    expect(out.timings.prefill_ms).toBeGreaterThan(0);

    const run = await wgpt([...args, '--stats']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toBe(`JULIET:${out.text}\n`);
    const prefill = Number(/^prefill: +([\d.]+) ms/m.exec(run.stderr)?.[1]);
    expect(prefill).toBeGreaterThan(0);
    expect(run.stderr).toMatch(/^seed: +\d+ /m);
  }, 120_000);

  it('takes llama.cpp and OpenAI names (-n, --temp, --max-tokens) and a negative --length-penalty', async () => {
    const out = json(await wgpt(['generate', 'ROMEO:', '--beams', '2', '-n', '3', '--temp', '0', '--length-penalty', '-0.5', '--json']));
    expect(out.tokens).toHaveLength(3);
    expect(out.finish_reason).toBe('length');
    const viaMaxTokens = json(await wgpt(['generate', 'ROMEO:', '--max-tokens', '2', '--temperature', '0', '--json']));
    expect(viaMaxTokens.tokens).toHaveLength(2);
  }, 120_000);
});

describe('option values as written', () => {
  it('--stop with whitespace only stops there ("\\n\\n" and " ")', async () => {
    const base = ['generate', 'ROMEO:', '--temperature', '0', '--max-new-tokens', '40', '--json'];
    const free = json(await wgpt(base));
    const blank = free.text.indexOf('\n\n');
    expect(blank).toBeGreaterThan(0); // greedy text on this model has a blank line: the stop below is really hit
    const paragraph = json(await wgpt([...base, '--stop', '\n\n']));
    expect(paragraph.finish_reason).toBe('stop');
    expect(paragraph.text).toBe(free.text.slice(0, blank));
    const word = json(await wgpt([...base, '--stop', ' ']));
    expect(word.finish_reason).toBe('stop');
    expect(word.text).toBe(free.text.slice(0, free.text.indexOf(' ')));
  }, 180_000);

  it('a negative number is a value, and every numeric option says its range in one line', async () => {
    expectUsageError(await wgpt(['generate', 'hi', '--top-k', '-3']), /^wgpt: --top-k must be a whole number >= 0 \(0: off\), got -3$/);
    expectUsageError(await wgpt(['generate', 'hi', '--temperature', '-1']), /^wgpt: --temperature must be a number >= 0 \(0: greedy\), got -1$/);
    expectUsageError(await wgpt(['generate', 'hi', '--top-p', '0']), /^wgpt: --top-p must be a number in \(0, 1\] \(1: off\), got 0$/);
    expectUsageError(await wgpt(['generate', 'hi', '--seed', '-1']), /^wgpt: --seed must be a whole number in \[0, 4294967295\], got -1$/);
    expectUsageError(await wgpt(['generate', 'hi', '--max-new-tokens', ' ']), /^wgpt: --max-new-tokens must be a whole number >= 0, got " "$/);
    // other tools' names reach our options, so their errors name ours
    expectUsageError(await wgpt(['generate', 'hi', '--repeat-penalty', '-1']), /^wgpt: --repetition-penalty must be a number > 0 \(1: off\), got -1$/);
    expectUsageError(await wgpt(['lab', 'ablate-head', '1', '-2']), /^wgpt: head H must be a whole number >= 0, got -2$/);
    expectUsageError(await wgpt(['generate', 'hi', '--stop']), /^wgpt: --stop needs a value: --stop <text>$/);
  }, 180_000);

  it('an unknown option gets the nearest known one, or the note that another tool uses that name', async () => {
    expectUsageError(await wgpt(['generate', 'hi', '--temprature', '0.5']), /^wgpt: unknown option --temprature for `wgpt generate`: did you mean --temperature\?$/);
    expectUsageError(await wgpt(['generate', 'hi', '--maxtokens', '5']), /did you mean --max-new-tokens\?$/);
    expectUsageError(await wgpt(['tokenize', 'hi', '--temp', '1']), /^wgpt: unknown option --temp for `wgpt tokenize`: it means --temperature elsewhere/);
    expectUsageError(await wgpt(['generate', 'hi', '--zzz']), /^wgpt: unknown option --zzz for `wgpt generate`: `wgpt generate --help` lists its options$/);
    // --offline is an option only where a model may be downloaded
    expectUsageError(await wgpt(['models', '--offline']), /^wgpt: unknown option --offline for `wgpt models`/);
    expect((await wgpt(['generate', '--help'])).stdout).toMatch(/--offline/);
    expect((await wgpt(['rm', '--help'])).stdout).not.toMatch(/--offline/);
  }, 180_000);

  it('tokenize calls its input text', async () => {
    expectUsageError(await wgpt(['tokenize'], { stdin: '' }), /^wgpt: the text on standard input is empty$/);
  }, 60_000);
});

describe('prompts and the context', () => {
  const long = 'to be or not '.repeat(200); // 801 tokens
  const ids = gpt2Tokenizer().encode(long);

  it('a prompt longer than the context: one line and nothing echoed; with --truncate its end is kept', async () => {
    const refused = await wgpt(['generate', long]);
    expectUsageError(refused, /^wgpt: the prompt is 801 tokens but the model's context holds 256: shorten it, or add --truncate/);
    expect(refused.stdout).toBe('');

    const run = await wgpt(['generate', long, '--truncate', '--temperature', '0', '--max-new-tokens', '4', '--json']);
    const out = json(run);
    const kept = N_CTX - 4;
    expect(out.prompt_tokens).toEqual(ids.slice(ids.length - kept));
    expect(out.prompt_tokens_dropped).toBe(ids.length - kept);
    expect(out.tokens).toHaveLength(4);
    expect(run.stderr.trim()).toBe(`wgpt: the prompt is 801 tokens and the context holds 256: dropped its first ${ids.length - kept} tokens (--truncate), kept the last ${kept}`);
  }, 120_000);

  it('when the context fills first, finish_reason is "context" and stderr says so in one line', async () => {
    const prompt = 'to be or not '.repeat(62); // 249 tokens: room for 7 more
    const room = N_CTX - gpt2Tokenizer().encode(prompt).length;
    const run = await wgpt(['generate', prompt, '--temperature', '0', '--max-new-tokens', '20', '--no-eos', '--json']);
    const out = json(run);
    expect(out.finish_reason).toBe('context');
    expect(out.tokens).toHaveLength(room);
    expect(run.stderr.trim()).toBe(`wgpt: the context of 256 tokens is full: stopped after ${room} new tokens of the 20 asked for (finish reason "context")`);
  }, 120_000);
});

describe('seeds', () => {
  it('two runs without --seed differ, each reports its seed, and --seed repeats a run', async () => {
    const args = ['generate', 'KING:', '--temperature', '1.5', '--max-new-tokens', '12', '--json'];
    const a = await wgpt([...args, '--stats']);
    const first = json(a);
    const second = json(await wgpt(args));
    expect(Number.isInteger(first.seed) && Number.isInteger(second.seed)).toBe(true);
    expect(second.seed).not.toBe(first.seed);
    expect(second.tokens).not.toEqual(first.tokens);
    expect(a.stderr).toContain(`seed:           ${first.seed} (--seed ${first.seed} repeats this run)`);
    const again = json(await wgpt([...args, '--seed', String(first.seed)]));
    expect(again.seed).toBe(first.seed);
    expect(again.tokens).toEqual(first.tokens);
  }, 180_000);
});

describe('wgpt lab run', () => {
  it('checks every hook, layer, head, neuron and position before running: one line per problem', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      [
        'prompt: "ROMEO:"',
        'decoding: { max_new_tokens: 3, temperature: 0 }',
        'interventions:',
        '  - { hook: blocks.9.attn.hook_z, op: zero, head: 2 }', // the model has 4 layers
        '  - { hook: blocks.1.attn.hook_z, op: zero, head: 4 }', // and 4 heads
        '  - { hook: blocks.0.mlp.hook_post, op: add, neuron: 512, value: 4 }', // and 512 MLP neurons
        '  - { hook: blocks.0.hook_resid_post, op: scale, factor: 2, position: 6 }', // 3 + 3 positions
        '  - { hook: blocks.0.attn.hook_z_typo, op: zero }',
        '  - { hook: blocks.0.attn.hook_z, op: zero, head: 1 }', // fine
        '',
      ].join('\n'),
    );
    const run = await wgpt(['lab', 'run', file, '--out', join(dir, 'out')]);
    const lines = expectUsageError(run, /interventions\[0\] \(blocks\.9\.attn\.hook_z\): layer 9 does not exist: the model has blocks 0\.\.3$/, 5);
    expect(lines[1]).toMatch(/interventions\[1\] .*head 4 does not exist: the model has heads 0\.\.3$/);
    expect(lines[2]).toMatch(/interventions\[2\] .*neuron 512 does not exist: 512 columns are 0\.\.511$/);
    expect(lines[3]).toMatch(/interventions\[3\] .*position 6 is outside the run: the prompt has 3 tokens and 3 are generated, so positions are 0\.\.5/);
    expect(lines[4]).toMatch(/interventions\[4\] \(blocks\.0\.attn\.hook_z_typo\): there is no such hook/);
    expect(run.stdout).toBe(''); // nothing ran
    expect((await wgpt(['lab', 'run', '--help'])).stdout).toContain('interventions:');
  }, 120_000);

  it('the documented example is a valid experiment for the embedded model', () => {
    const yaml = EXPERIMENT_FORMAT.split('\nops:')[0]!;
    expect(readFileSync(new URL('../../README.md', import.meta.url), 'utf8')).toContain(`\`\`\`yaml\n${yaml}\n\`\`\``); // the README shows the same
    const experiment = parseExperiment(yaml, 'example.yaml');
    expect(experiment.interventions).toHaveLength(4);
    const config = JSON.parse(readFileSync(new URL('../../weights/config.json', import.meta.url), 'utf8'));
    const dims = { arch: 'gpt2' as const, nLayer: config.n_layer, C: config.n_embd, NH: config.n_head, NKV: config.n_head, HS: config.n_embd / config.n_head, I: 4 * config.n_embd, V: config.vocab_size };
    expect(checkExperiment(experiment, dims, 5)).toEqual([]);
    expect(checkExperiment(experiment, { ...dims, nLayer: 2 }, 5)).toEqual([expect.stringMatching(/layer 2 does not exist: the model has blocks 0\.\.1$/)]);
  });
});

describe('wgpt bench', () => {
  it('numbers every end-to-end step (n of N, model, weights, phase) and names the adapter once', async () => {
    const run = await wgpt(['bench', '--quick', '--only', 'e2e', '--out', join(dir, 'bench')]);
    expect(run.code, run.stderr).toBe(0);
    const steps = [...run.stderr.matchAll(/^ {2}\[e2e (\d+) of (\d+)\] tiny-gpt2, (f32|f16) weights: (.+)$/gm)];
    expect(steps.length).toBeGreaterThan(4);
    const total = Number(steps[0]![2]);
    expect(steps.map((m) => Number(m[1]))).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(steps.map((m) => m[4])).toContain('prefill of 16 tokens');
    expect(run.stderr).not.toMatch(/\((software|hardware)\) \(\1\)/);
  }, 180_000);
});
