// The CLI as a user runs it: a subprocess, on the embedded default model.
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';

const BIN = new URL('../../packages/cli/bin/wgpt.js', import.meta.url).pathname;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function wgpt(args: string[], options: { stdin?: string; onStdout?: (text: string, kill: () => void) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, () => child.kill('SIGINT'));
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

interface Step {
  id: number;
  text: string;
  logprob: number;
  top_logprobs: { id: number; text: string; logprob: number }[];
}

function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(2);
  const lines = run.stderr.trim().split('\n').filter((l) => l.startsWith('wgpt:'));
  expect(lines.length).toBe(1);
  expect(lines[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace without --verbose
}

describe('wgpt generate', () => {
  it('--json follows the contract, and greedy output is the same with and without the KV cache', async () => {
    const prompt = 'ROMEO:';
    const cached = await wgpt(['generate', prompt, '--json', '--temperature', '0', '--max-new-tokens', '12', '--top-logprobs', '4']);
    expect(cached.code, cached.stderr).toBe(0);
    const out = JSON.parse(cached.stdout);
    expect(Object.keys(out)).toEqual(expect.arrayContaining(['model', 'adapter', 'prompt_tokens', 'tokens', 'text', 'steps', 'timings', 'finish_reason']));
    expect(typeof out.model).toBe('string');
    expect(out.adapter).toMatch(/\w/);
    expect(out.prompt_tokens).toEqual(gpt2Tokenizer().encode(prompt));
    expect(['length', 'eos', 'stop']).toContain(out.finish_reason);
    if (out.finish_reason === 'length') expect(out.tokens).toHaveLength(12);
    expect(out.steps).toHaveLength(out.tokens.length);
    expect(out.text).toBe(gpt2Tokenizer().decode(out.tokens));
    for (const [i, step] of (out.steps as Step[]).entries()) {
      expect(step.id).toBe(out.tokens[i]);
      expect(step.logprob).toBeLessThanOrEqual(0);
      expect(step.top_logprobs).toHaveLength(4);
      // greedy: the chosen token is the most likely one, and candidates come most likely first
      expect(step.top_logprobs[0]!.id).toBe(step.id);
      expect(step.top_logprobs[0]!.logprob).toBeCloseTo(step.logprob, 6);
      for (let j = 1; j < 4; j++) expect(step.top_logprobs[j]!.logprob).toBeLessThanOrEqual(step.top_logprobs[j - 1]!.logprob);
    }
    expect(out.timings.prefill_ms).toBeGreaterThan(0);
    expect(out.timings.decode_ms).toBeGreaterThan(0);
    expect(out.timings.tokens_per_s).toBeGreaterThan(0);

    const uncached = JSON.parse((await wgpt(['generate', prompt, '--json', '--temperature', '0', '--max-new-tokens', '12', '--no-cache'])).stdout);
    expect(uncached.tokens).toEqual(out.tokens);
  });

  it('streams the prompt and the continuation as text', async () => {
    const json = JSON.parse((await wgpt(['generate', 'JULIET:', '--json', '--temperature', '0', '--max-new-tokens', '6'])).stdout);
    const text = await wgpt(['generate', 'JULIET:', '--temperature', '0', '--max-new-tokens', '6']);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`JULIET:${json.text}\n`);
  });

  it('the same seed gives the same text; another seed another text', async () => {
    const args = ['generate', 'KING:', '--json', '--temperature', '1.2', '--max-new-tokens', '10', '--top-k', '50'];
    const a = JSON.parse((await wgpt([...args, '--seed', '7'])).stdout);
    const b = JSON.parse((await wgpt([...args, '--seed', '7'])).stdout);
    const c = JSON.parse((await wgpt([...args, '--seed', '8'])).stdout);
    expect(b.tokens).toEqual(a.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
  });

  it('--max-new-tokens 0 reports what the model thinks comes next, from stdin', async () => {
    const run = await wgpt(['generate', '--json', '--max-new-tokens', '0'], { stdin: 'First Citizen:\n' });
    expect(run.code, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.tokens).toEqual([]);
    expect(out.steps).toEqual([]);
    expect(out.next).toHaveLength(5);
    const total = out.next.reduce((s: number, c: { logprob: number }) => s + Math.exp(c.logprob), 0);
    expect(total).toBeGreaterThan(0);
    expect(total).toBeLessThanOrEqual(1 + 1e-6);
  });

  it('--stop ends the text before the stop string', async () => {
    const free = JSON.parse((await wgpt(['generate', 'ROMEO:', '--json', '--temperature', '0', '--max-new-tokens', '24'])).stdout);
    // stop at the second character of whatever greedy decoding produces, so the stop is sure to be hit
    const stop = free.text.trim().slice(0, 2);
    const run = JSON.parse((await wgpt(['generate', 'ROMEO:', '--json', '--temperature', '0', '--max-new-tokens', '24', '--stop', stop])).stdout);
    expect(run.finish_reason).toBe('stop');
    expect(run.text).toBe(free.text.slice(0, free.text.indexOf(stop)));
  });

  it('Ctrl-C stops cleanly and keeps what was printed', async () => {
    let sent = false;
    const run = await wgpt(['generate', 'ROMEO:', '--max-new-tokens', '200', '--temperature', '0'], {
      onStdout: (text, kill) => {
        if (!sent && text.length > 'ROMEO:'.length + 4) {
          sent = true;
          kill();
        }
      },
    });
    expect(sent).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stdout.startsWith('ROMEO:')).toBe(true);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  describe('bad input: one line, exit code 2, no stack trace', () => {
    it('a model folder that does not exist', async () => {
      expectOneLineError(await wgpt(['generate', 'hi', '--model', '/nonexistent/model']), /does not exist/);
    });
    it('a folder without config.json', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'wgpt-empty-'));
      expectOneLineError(await wgpt(['generate', 'hi', '--model', dir]), /no config\.json/);
    });
    it('an unsupported architecture', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'wgpt-bert-'));
      await writeFile(join(dir, 'config.json'), JSON.stringify({ architectures: ['BertForMaskedLM'], model_type: 'bert' }));
      expectOneLineError(await wgpt(['generate', 'hi', '--model', dir]), /BertForMaskedLM|bert/);
    });
    it('a prompt longer than the context', async () => {
      expectOneLineError(await wgpt(['generate', 'to be or not '.repeat(200)]), /context/);
    });
    it('an out-of-range value', async () => {
      expectOneLineError(await wgpt(['generate', 'hi', '--top-p', '1.5']), /top-p/);
    });
    it('conflicting options', async () => {
      expectOneLineError(await wgpt(['generate', 'hi', '--beams', '3', '--temperature', '1']), /beams/);
    });
  });
});

describe('wgpt tokenize and doctor', () => {
  it('tokenize shows ids and bytes', async () => {
    const run = await wgpt(['tokenize', 'Hello world', '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.tokens.map((t: { id: number }) => t.id)).toEqual([15496, 995]);
    expect(out.tokens[1].bytes).toEqual([...new TextEncoder().encode(' world')]);
  });

  it('doctor names the adapter and why it was chosen', async () => {
    const run = await wgpt(['doctor', '--json', '--device', 'webgpu']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.device).toBe('webgpu');
    expect(out.name).toMatch(/\w/);
    expect(out.reason).toMatch(/\w/);
    expect(out.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
  });

  it('doctor says which device auto chose and why: WebAssembly on a machine whose only adapter is software', async () => {
    const out = JSON.parse((await wgpt(['doctor', '--json'])).stdout);
    const gpu = JSON.parse((await wgpt(['doctor', '--json', '--device', 'webgpu'])).stdout);
    expect(out.device).toBe(gpu.kind === 'hardware' ? 'webgpu' : 'wasm');
    expect(out.reason).toMatch(/\w/);
    if (out.device === 'wasm') {
      expect(out.name).toMatch(/WebAssembly SIMD128/);
      expect(out.wasm.threads).toBeGreaterThanOrEqual(1);
      expect(out.webgpu.name ?? out.webgpu.error).toMatch(/\w/);
    }
  });
});
