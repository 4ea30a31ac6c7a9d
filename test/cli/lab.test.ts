// Every `wgpt lab` command, run as a subprocess on the embedded model with short prompts and few tokens: each
// exits 0 and writes an SVG and a PNG whose signature and IHDR header are valid, and --json carries the numbers.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BIN = new URL('../../packages/cli/bin/wgpt.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'wgpt-lab-'));
const experiment = join(dir, 'experiment.yaml');
writeFileSync(experiment, 'prompt: "ROMEO:"\nseed: 1\ndecoding: { max_new_tokens: 3, temperature: 0 }\ninterventions:\n  - { hook: blocks.1.attn.hook_z, op: zero, head: 2 }\n');

const badExperiment = join(dir, 'bad.yaml');
writeFileSync(badExperiment, 'prompt: "ROMEO:"\ninterventions:\n  - { hook: blocks.1.attn.hook_z, op: zero, head: 7 }\n');

const short = ['--prompt', 'ROMEO:', '--max-new-tokens', '3'];
const LABS: [string, string[]][] = [
  ['weights', ['--layer', '1', '--matrix', 'o']],
  ['ablate-head', ['1', '2', ...short]],
  ['scale-head', ['0', '1', '3', ...short]],
  ['nudge-neuron', ['1', '5', '8', ...short]],
  ['zero-embedding-slice', ['0..32', ...short]],
  ['residual-noise', ['1.5', ...short]],
  ['boost-positions', ['3', ...short]],
  ['style-bias', [',=4', ...short]],
  ['temperature', short],
  ['logit-lens', short],
  ['patch', ['--clean', 'What says the king', '--corrupt', 'What says the queen']],
  ['attention', ['--layer', '1', '--head', '2', ...short]],
  ['hidden-states', ['--layer', '2']],
  ['embeddings', ['--words', 'man,woman,king,queen']],
  ['kv-cache', ['--lengths', '2,4', '--repeats', '2', ...short]],
  ['run', [experiment]],
];

function checkPng(bytes: Buffer, file: string): void {
  expect([...bytes.subarray(0, 8)], `${file} signature`).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  expect(bytes.subarray(12, 16).toString('ascii'), `${file} first chunk`).toBe('IHDR');
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  expect(width > 100 && height > 100, `${file} is ${width}x${height}`).toBe(true);
  expect(bytes.subarray(bytes.length - 8, bytes.length - 4).toString('ascii'), `${file} ends with IEND`).toBe('IEND');
}

describe('wgpt lab', () => {
  it.each(LABS)('%s writes a valid SVG and PNG and its numbers as JSON', (name, args) => {
    const out = join(dir, name);
    // the weights lab's JSON holds every weight of a 128 x 128 matrix: more than spawnSync's default 1 MB buffer
    const run = spawnSync(process.execPath, [BIN, 'lab', name, ...args, '--out', out, '--json'], { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
    expect(run.status, run.stderr).toBe(0);
    const json = JSON.parse(run.stdout);
    expect(json.lab).toBe(name);
    expect(json.lesson.length, 'what to look for, in two or three lines').toBeGreaterThanOrEqual(2);
    expect(json.lesson.length).toBeLessThanOrEqual(3);
    if (json.too_small !== undefined) expect(json.too_small).toMatch(/^the embedded 7M model is too small for this: .*wgpt lab .*--model openai-community\/gpt2$/);
    expect(json.figures.length).toBeGreaterThan(0);
    for (const f of json.figures) expect(f.data.length, f.name).toBeGreaterThan(0);
    const files = readdirSync(out);
    const svgs = files.filter((f) => f.endsWith('.svg'));
    expect(svgs.length).toBe(json.figures.length);
    for (const svg of svgs) {
      const text = readFileSync(join(out, svg), 'utf8');
      expect(text.startsWith('<svg'), svg).toBe(true);
      expect(text.trimEnd().endsWith('</svg>'), svg).toBe(true);
      checkPng(readFileSync(join(out, svg.replace(/\.svg$/, '.png'))), svg);
    }
  }, 180_000);

  const badIndex: [string, string[], RegExp][] = [
    ['a layer', ['ablate-head', '4', '0'], /^layer 4 does not exist: the model has layers 0\.\.3$/],
    ['a head', ['attention', '--head', '9', '--prompt', 'ROMEO:'], /^head 9 does not exist: the model has heads 0\.\.3$/],
    ['a neuron', ['nudge-neuron', '0', '512', '1'], /^neuron 512 does not exist/],
    ['a token id', ['style-bias', '60000=2'], /^token id 60000 does not exist/],
    ['a length', ['kv-cache', '--lengths', '2,300'], /^--lengths: 300 is out of range/],
    ['a YAML head', ['run', badExperiment], /interventions\[0\] \(blocks\.1\.attn\.hook_z\): head 7 does not exist: the model has heads 0\.\.3$/],
  ];
  it.each(badIndex)('%s out of range is one line on stderr and exit code 2', (_, args, message) => {
    const run = spawnSync(process.execPath, [BIN, 'lab', ...args, '--out', join(dir, 'bad')], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(2);
    const lines = run.stderr.trim().split('\n');
    expect(lines.length, run.stderr).toBe(1);
    expect(lines[0]!.replace(/^wgpt: /, '')).toMatch(message);
  }, 180_000);

  it('weights under --weights q4 draws the matrix as the model holds it, the steps of its blocks and one row', () => {
    const out = join(dir, 'weights-q4');
    const run = spawnSync(process.execPath, [BIN, 'lab', 'weights', '--weights', 'q4', '--device', 'wasm', '--out', out], { encoding: 'utf8', timeout: 120_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/\(out, in\) as q4 holds it \(dequantized\)/);
    expect(run.stdout).toMatch(/^q4: each row of 128 is 4 blocks of 32, each 32 uint4 q/m);
    expect(run.stdout).toMatch(/^rounding error \(dequantized - float\): max \S+, RMS \S+ \([\d.]+% of the weights' RMS\)/m);
    const files = readdirSync(out).sort();
    expect(files).toEqual(['weights-L0-q-row.png', 'weights-L0-q-row.svg', 'weights-L0-q-steps.png', 'weights-L0-q-steps.svg', 'weights-L0-q.png', 'weights-L0-q.svg']);
    for (const png of files.filter((f) => f.endsWith('.png'))) checkPng(readFileSync(join(out, png)), png);
  }, 180_000);

  it('an unknown lab is a usage error that lists the labs', () => {
    const run = spawnSync(process.execPath, [BIN, 'lab', 'nope'], { encoding: 'utf8' });
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/unknown lab "nope": choose one of weights, ablate-head/);
  });
});
