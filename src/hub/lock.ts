// One pull of a model at a time. Two pulls of the same model at once (two terminals, or a pull and a `generate
// --model` that pulls) would write the same blobs/{etag}.incomplete, each resuming from or cutting the other's
// bytes. So a pull first takes a lock file per model, {cacheDir}/.locks/models--{org}--{name}/wgpt-pull.lock
// (where huggingface_hub keeps its own locks); a second pull waits for it, then finds the files in the snapshot
// and reuses them. The file names its holder; a lock whose process is gone (killed mid-pull) is taken over.
import { node } from './settings.ts';

export interface LockHolder {
  pid: number;
  host: string;
  /** When the holder took the lock (ISO time). */
  since: string;
}

export interface LockOptions {
  /** Called once, when the lock is held by another live process and this one starts waiting. */
  onWait?: (holder: LockHolder, lockFile: string) => void;
  signal?: AbortSignal;
  /** How often to look again (default 200 ms). */
  pollMs?: number;
}

export function lockFile(cacheDir: string, modelFolderName: string): string {
  return node().path.join(cacheDir, '.locks', modelFolderName, 'wgpt-pull.lock');
}

/** Run `fn` holding the lock `file`: wait while another live process holds it. */
export async function withLock<T>(file: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const release = await acquire(file, options);
  try {
    return await fn();
  } finally {
    await release();
  }
}

async function acquire(file: string, options: LockOptions): Promise<() => Promise<void>> {
  const { fs, path, os } = node();
  await fs.mkdir(path.dirname(file), { recursive: true });
  const me: LockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  let waiting = false;
  for (;;) {
    try {
      // 'wx' creates the file only if it does not exist: of two processes racing here, exactly one succeeds
      await fs.writeFile(file, JSON.stringify(me), { flag: 'wx' });
      return async () => {
        await fs.rm(file, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const text = await fs.readFile(file, 'utf8').catch(() => undefined);
    if (text === undefined) continue; // released between our two looks
    const holder = parseHolder(text);
    if (!holder || (holder.host === me.host && !isAlive(holder.pid))) {
      // a lock left by a process that died (or a file cut short as it was written, if old enough): take it over
      const stat = await fs.stat(file).catch(() => undefined);
      const settled = holder || (stat !== undefined && Date.now() - stat.mtimeMs > 5000);
      if (settled && (await fs.readFile(file, 'utf8').catch(() => undefined)) === text) await fs.rm(file, { force: true });
      if (settled) continue;
    } else if (!waiting) {
      waiting = true;
      options.onWait?.(holder, file);
    }
    if (options.signal?.aborted) throw options.signal.reason ?? new Error('aborted');
    await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 200));
  }
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const h = JSON.parse(text) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process with this id runs on this machine (EPERM: it does, as another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
