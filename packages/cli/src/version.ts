// The version of wgpt: the package's own package.json, found by its name as any program finds it.
import { readFileSync } from 'node:fs';

export function version(): string {
  return (JSON.parse(readFileSync(new URL(import.meta.resolve('wgpt/package.json')), 'utf8')) as { version: string }).version;
}
