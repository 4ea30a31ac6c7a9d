// `wgpt pull org/name`: download a model from the Hugging Face hub into the cache, with a progress bar per file.
import cliProgress from 'cli-progress';
import { hubSettings, pullModel, type PullEvent } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';

export function registerPull(command: Command, run: Run): void {
  command
    .option('--revision <rev>', 'Branch, tag or commit to download', { default: 'main' })
    .example('wgpt pull HuggingFaceTB/SmolLM2-135M')
    .example('HF_TOKEN=hf_... wgpt pull meta-llama/Llama-3.2-1B')
    .action(run(async (model: string | undefined, o: Record<string, any>) => {
      if (model === undefined) throw new CliError('which model? give its hub id: `wgpt pull org/name`, e.g. `wgpt pull HuggingFaceTB/SmolLM2-135M`');
      if (hubSettings().offline) {
        throw new CliError('wgpt pull downloads from the hub, which HF_HUB_OFFLINE forbids: unset it');
      }
      const progress = pullProgress(process.stderr);
      let result;
      try {
        result = await pullModel(String(model), { revision: String(o.revision), onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      const total = result.files.reduce((sum, f) => sum + f.size, 0);
      const fetched = result.files.filter((f) => f.downloaded);
      const news = fetched.length === 0 ? 'all cached already' : `${fetched.length} downloaded`;
      process.stdout.write(`${result.repo}: ${result.files.length} files, ${formatBytes(total)} (${news}) in ${result.dir}\n`);
    }));
}

export interface PullProgress {
  onProgress: (event: PullEvent) => void;
  stop: () => void;
}

/**
 * Show a pull's progress on `stream`: on a terminal, a bar per file with speed and ETA (cli-progress); otherwise
 * (a log, CI) plain lines: when a file starts, every 10 seconds while it downloads, and when it is done.
 */
export function pullProgress(stream: NodeJS.WriteStream): PullProgress {
  const started = new Map<string, { at: number; from: number; lastLine: number }>();
  const speedOf = (file: string, bytes: number) => {
    const s = started.get(file);
    const seconds = s ? (Date.now() - s.at) / 1000 : 0;
    return seconds > 0 ? `${formatBytes((bytes - s!.from) / seconds)}/s` : '';
  };

  // what happens before any file: the same on a terminal and in a log
  const before = (e: PullEvent): e is Extract<PullEvent, { type: 'renamed' | 'waiting' }> => {
    if (e.type === 'renamed') stream.write(`${e.from} is ${e.repo} on the hub now: pulling ${e.repo}\n`);
    else if (e.type === 'waiting') stream.write(`another wgpt (process ${e.pid}) is pulling ${e.repo}: waiting for it to finish (lock ${e.lockFile})\n`);
    else return false;
    return true;
  };

  if (!stream.isTTY) {
    const line = (text: string) => stream.write(`${text}\n`);
    return {
      onProgress(e) {
        if (before(e)) return;
        if (e.type === 'start') {
          started.set(e.file, { at: Date.now(), from: e.resumeFrom, lastLine: Date.now() });
          const resume = e.resumeFrom > 0 ? `, resuming at ${formatBytes(e.resumeFrom)}` : '';
          line(`downloading ${e.file}${e.size !== undefined ? ` (${formatBytes(e.size)}${resume})` : ''}`);
        } else if (e.type === 'progress') {
          const s = started.get(e.file);
          if (s && Date.now() - s.lastLine >= 10_000) {
            s.lastLine = Date.now();
            const percent = e.size ? ` ${((100 * e.bytes) / e.size).toFixed(0)}%` : '';
            line(`  ${e.file}${percent} ${formatBytes(e.bytes)} ${speedOf(e.file, e.bytes)}`);
          }
        } else if (e.type === 'retry') {
          line(`  ${e.file}: ${e.reason.replace(/: run the pull again.*/, '')}; retrying (${e.attempt})`);
        } else {
          line(`  ${e.file}  ${formatBytes(e.size)}  ${e.downloaded ? `done ${speedOf(e.file, e.size)}` : 'cached'}`);
        }
      },
      stop() {},
    };
  }

  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: '  {file} |{bar}| {percentage}% {done}/{size} {speed} ETA {eta_formatted}',
      barsize: 30,
      fps: 5,
      clearOnComplete: false,
      autopadding: true,
    },
    cliProgress.Presets.shades_classic,
  );
  const fileBars = new Map<string, cliProgress.SingleBar>();
  const width = 36; // file names padded so the bars line up
  const name = (file: string) => (file.length > width ? `...${file.slice(-(width - 3))}` : file.padEnd(width));
  return {
    onProgress(e) {
      if (before(e)) return;
      if (e.type === 'start') {
        started.set(e.file, { at: Date.now(), from: e.resumeFrom, lastLine: 0 });
        const total = e.size ?? 0;
        const payload = { file: name(e.file), done: formatBytes(e.resumeFrom), size: formatBytes(total), speed: '' };
        const bar = fileBars.get(e.file);
        if (bar) bar.update(e.resumeFrom, payload); // a retry goes on in the same bar
        else fileBars.set(e.file, bars.create(total, e.resumeFrom, payload));
      } else if (e.type === 'progress') {
        const bar = fileBars.get(e.file);
        if (e.size === undefined) bar?.setTotal(e.bytes);
        bar?.update(e.bytes, { done: formatBytes(e.bytes), speed: speedOf(e.file, e.bytes) });
      } else if (e.type === 'retry') {
        fileBars.get(e.file)?.update({ speed: `connection lost, retrying (${e.attempt})` });
      } else if (!e.downloaded) {
        bars.log(`  ${name(e.file)} ${formatBytes(e.size)} cached\n`);
      } else {
        fileBars.get(e.file)?.update(e.size, { done: formatBytes(e.size), speed: speedOf(e.file, e.size) });
      }
    },
    stop: () => bars.stop(),
  };
}

/** 1234567 -> "1.2 MB" (decimal units, as the hub shows sizes). */
export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`;
}
