// `wgpt models` and `wgpt rm org/name`: what the Hugging Face hub cache holds, and removing a model from it.
// The cache is shared with Python's huggingface_hub, so models it downloaded are listed (and removed) too.
import { hubSettings, listCachedModels, removeCachedModel, type CachedModel } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';
import { formatBytes } from './pull.ts';

export function registerModels(command: Command, run: Run): void {
  command
    .option('--json', 'Print the list as JSON')
    .action(run(async (o: Record<string, any>) => {
      const { cacheDir } = hubSettings();
      const models = await listCachedModels(cacheDir);
      if (o.json) {
        const list = models.map((m) => ({ model: m.repo, bytes: m.bytes, partial_bytes: m.partialBytes, refs: m.refs, complete: isComplete(m), path: m.folder }));
        process.stdout.write(`${JSON.stringify({ cache: cacheDir, models: list })}\n`);
        return;
      }
      if (models.length === 0) {
        process.stdout.write(`no models in ${cacheDir}: \`wgpt pull org/name\` downloads one\n`);
        return;
      }
      const rows = models.map((m) => [m.repo, formatBytes(m.bytes), revisions(m), status(m)]);
      const header = ['model', 'size', 'revision', ''];
      const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
      const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
      const total = models.reduce((sum, m) => sum + m.bytes, 0);
      process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
      process.stdout.write(`${models.length} model${models.length === 1 ? '' : 's'}, ${formatBytes(total)} in ${cacheDir}\n`);
    }));
}

export function registerRm(command: Command, run: Run): void {
  command
    .example('wgpt rm HuggingFaceTB/SmolLM2-135M')
    .action(run(async (model: string | undefined) => {
      if (model === undefined) throw new CliError('which model? give its hub id: `wgpt rm org/name` (`wgpt models` lists them)');
      const { cacheDir } = hubSettings();
      const removed = await removeCachedModel(cacheDir, String(model));
      process.stdout.write(`removed ${removed.repo} (${formatBytes(removed.bytes + removed.partialBytes)}) from ${cacheDir}\n`);
    }));
}

function isComplete(m: CachedModel): boolean {
  return m.snapshots.some((s) => s.complete);
}

/** The branch or tag names pulled, or the short commits of snapshots pulled by commit. */
function revisions(m: CachedModel): string {
  const names = Object.keys(m.refs);
  return names.length > 0 ? names.join(', ') : m.snapshots.map((s) => s.commit.slice(0, 12)).join(', ');
}

function status(m: CachedModel): string {
  if (isComplete(m)) return '';
  const sofar = m.partialBytes > 0 ? ` (${formatBytes(m.partialBytes)} of a download kept)` : '';
  return `incomplete${sofar}: \`wgpt pull ${m.repo}\` finishes it`;
}
