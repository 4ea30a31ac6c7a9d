// Threads for the WebAssembly kernels: matvec and matmul split by rows of w (output features) over worker
// threads that share the kernels' memory, so no tensor is ever copied. The calling thread computes the first
// share itself while the workers compute the others, then waits for them.
//
// Synchronisation is one control block (an Int32Array over a SharedArrayBuffer), a slot per worker: the caller
// writes the kernel and its arguments, bumps the job number and notifies; the worker runs its share, stores the
// job number as done and notifies back (see worker.js). Where SharedArrayBuffer is missing there are no workers:
// the calling thread runs every row.
import type { KernelExports } from './module.ts';

/** The kernels that take a row range (n0, n1) as their last two arguments. */
export const ROW_KERNELS = ['matvecF32', 'matvecF16', 'matmulF32', 'matmulF16'] as const;
export type RowKernel = (typeof ROW_KERNELS)[number];

/** Shares start on multiples of 4 rows, so matmul's blocks of 2 rows of w never straddle two shares. */
const ROW_BLOCK = 4;
/** Ints per slot: job, done, kernel, argc, failed, then at most 11 arguments (see worker.js). */
const SLOT_INTS = 16;
const JOB_AT = 0;
const DONE_AT = 1;
const KERNEL_AT = 2;
const ARGC_AT = 3;
const FAILED_AT = 4;
const ARG_BASE = 5;
/** How long the caller spins on a worker's done flag before sleeping on it (where this thread may sleep). */
const SPIN = 20000;

/** Minimal view of a Node Worker or a Web Worker: what the pool uses. */
interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): unknown;
}

export class ThreadPool {
  private jobs = 0;
  private readonly ctl: Int32Array;
  /** Threads a job is split over: all of them, unless limited (the bench compares 1 thread with 2). */
  private active: number;

  private constructor(
    private readonly exports: KernelExports,
    private readonly workers: WorkerHandle[],
    control: SharedArrayBuffer | undefined,
  ) {
    this.ctl = control ? new Int32Array(control) : new Int32Array(0);
    this.active = workers.length + 1;
  }

  /** Threads that compute, the caller included. */
  get threads(): number {
    return this.active;
  }

  /** Threads the pool holds, the caller included: the most `threads` can be set to. */
  get size(): number {
    return this.workers.length + 1;
  }

  /** Split the next jobs over `n` threads of the pool (1 .. size); the others stay idle. */
  set threads(n: number) {
    if (!Number.isInteger(n) || n < 1 || n > this.size) throw new Error(`threads must be an integer from 1 to ${this.size}, got ${n}`);
    this.active = n;
  }

  /**
   * A pool of `threads` threads (the caller and threads - 1 workers) over `memory`, which must be shared when
   * threads > 1. `exports` are the caller's own instance of `module`.
   */
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    if (threads === 1) return new ThreadPool(exports, [], undefined);
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('worker threads need a shared WebAssembly memory (SharedArrayBuffer)');
    const control = new SharedArrayBuffer((threads - 1) * SLOT_INTS * 4);
    const workers: WorkerHandle[] = [];
    try {
      for (let slot = 0; slot < threads - 1; slot++) {
        workers.push(await startWorker({ module, memory, control, slot, slotInts: SLOT_INTS, argBase: ARG_BASE, failedAt: FAILED_AT, kernels: ROW_KERNELS }));
      }
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new ThreadPool(exports, workers, control);
  }

  /** Run `kernel(...args, n0, n1)` over rows 0 .. N - 1, split into one share per thread. */
  runRows(kernel: RowKernel, args: number[], N: number): void {
    const shares = splitRows(N, this.threads);
    if (shares.length === 1) {
      this.kernel(kernel)(...args, 0, N);
      return;
    }
    if (args.length + 2 > SLOT_INTS - ARG_BASE) throw new Error(`${kernel}: too many arguments for a worker slot`);
    const job = (this.jobs = (this.jobs % 0x3fffffff) + 1); // stays positive: -1 means stop
    const id = ROW_KERNELS.indexOf(kernel);
    for (let w = 1; w < shares.length; w++) {
      const base = (w - 1) * SLOT_INTS;
      const [n0, n1] = shares[w]!;
      this.ctl[base + KERNEL_AT] = id;
      this.ctl[base + FAILED_AT] = 0;
      this.ctl[base + ARGC_AT] = args.length + 2;
      for (let i = 0; i < args.length; i++) this.ctl[base + ARG_BASE + i] = args[i]! | 0;
      this.ctl[base + ARG_BASE + args.length] = n0;
      this.ctl[base + ARG_BASE + args.length + 1] = n1;
      Atomics.store(this.ctl, base + JOB_AT, job);
      Atomics.notify(this.ctl, base + JOB_AT);
    }
    // The caller's share; whatever happens to it, the workers finish theirs before the slots are written again.
    const [n0, n1] = shares[0]!;
    let error: unknown;
    try {
      this.kernel(kernel)(...args, n0, n1);
    } catch (err) {
      error = err;
    }
    let failed = false;
    for (let w = 1; w < shares.length; w++) {
      this.waitDone(w - 1, job);
      failed ||= this.ctl[(w - 1) * SLOT_INTS + FAILED_AT] !== 0;
    }
    if (error) throw error;
    if (failed) throw new Error(`${kernel}: a worker thread failed (its message follows on the console)`);
  }

  /** Stop the workers. */
  destroy(): void {
    for (let w = 0; w < this.workers.length; w++) {
      Atomics.store(this.ctl, w * SLOT_INTS + JOB_AT, -1);
      Atomics.notify(this.ctl, w * SLOT_INTS + JOB_AT);
      this.workers[w]!.terminate();
    }
    this.workers.length = 0;
  }

  private kernel(name: RowKernel): (...args: number[]) => void {
    return this.exports[name] as (...args: number[]) => void;
  }

  private waitDone(worker: number, job: number): void {
    const at = worker * SLOT_INTS + DONE_AT;
    for (let spin = 0; Atomics.load(this.ctl, at) !== job; spin++) {
      // A browser's main thread may not sleep (Atomics.wait throws there): it keeps spinning.
      if (spin >= SPIN && canSleep) {
        const seen = Atomics.load(this.ctl, at);
        if (seen !== job) Atomics.wait(this.ctl, at, seen, 100);
      }
    }
  }
}

/** Whether this thread may block in Atomics.wait: Node's main thread and workers may; a browser's main thread not. */
const canSleep = typeof (globalThis as { window?: unknown }).window === 'undefined';

/** [n0, n1) per thread: ceil(N / threads) rows each, rounded up to whole row blocks; no empty shares. */
export function splitRows(N: number, threads: number): [number, number][] {
  const size = Math.ceil(Math.ceil(N / ROW_BLOCK) / threads) * ROW_BLOCK;
  const shares: [number, number][] = [];
  for (let n0 = 0; n0 < N; n0 += size) shares.push([n0, Math.min(N, n0 + size)]);
  return shares;
}

/** Start worker.js (a Node worker thread, or a module Web Worker in a browser) and wait until it is ready. */
async function startWorker(init: Record<string, unknown>): Promise<WorkerHandle> {
  if (typeof process !== 'undefined' && process.versions?.node) {
    const { Worker } = await import('node:worker_threads');
    const worker = new Worker(new URL('./worker.js', import.meta.url));
    await new Promise<void>((resolve, reject) => {
      worker.on('message', (m) => (m === 'ready' ? resolve() : console.error(`WebAssembly worker: ${m}`)));
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`a WebAssembly worker thread exited (code ${code}) before it started`)));
      worker.postMessage(init);
    });
    worker.unref(); // an idle pool does not keep the process alive (after the listeners: adding one refs the worker again)
    return worker;
  }
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' }); // the form bundlers recognise
  await new Promise<void>((resolve, reject) => {
    worker.addEventListener('message', (e) => (e.data === 'ready' ? resolve() : console.error(`WebAssembly worker: ${e.data}`)));
    worker.addEventListener('error', (e) => reject(new Error(`a WebAssembly worker failed to start: ${e.message}`)), { once: true });
    worker.postMessage(init);
  });
  return worker;
}
