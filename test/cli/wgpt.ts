// Running the CLI as a user does: a subprocess of packages/cli/bin/wgpt.js, its output and exit code.
import { spawn } from 'node:child_process';
import { expect } from 'vitest';

export const BIN = new URL('../../packages/cli/bin/wgpt.js', import.meta.url).pathname;

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function wgpt(args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

/** Exit code 2, the given number of "wgpt: " lines on stderr (the first matching `pattern`), no stack trace. */
export function expectUsageError(run: Run, pattern: RegExp, lines = 1): string[] {
  expect(run.code, run.stderr).toBe(2);
  const said = run.stderr.trim().split('\n').filter((l) => l.startsWith('wgpt:'));
  expect(said, run.stderr).toHaveLength(lines);
  expect(said[0]).toMatch(pattern);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  return said;
}

/** The JSON object a --json run printed. */
export function json(run: Run): any {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}
