// Threads for the WebAssembly kernels: matvec and matmul split by rows of w (output features) over worker
// threads that share the kernels' memory, so no tensor is ever copied.
//
// A job's rows are cut into a few shares per thread (more for a large job, so that none lasts long), and every
// thread, the caller included, claims shares one at a time until none is left. So a worker that is late (asleep, or off its core on a busy machine) costs nothing:
// the caller claims its shares too, and waits only for a share a worker is computing. With one fixed share per
// thread, the caller waited for each worker to be scheduled, and on a loaded 2-core machine 2 threads ran a GPT-2
// decode slower than 1.
//
// Synchronisation is one control block (an Int32Array over a SharedArrayBuffer). The caller writes the kernel, its
// arguments and the share size, and publishes the job number; workers wake on it (see worker.js). Shares are
// claimed by compare-and-swap on one word holding the job number and the next share, so a worker still holding
// the arguments of a finished job can never claim a share of the next one. Workers count themselves in ACTIVE
// while they compute; the caller returns when every share is claimed and ACTIVE is 0. Where SharedArrayBuffer is
// missing there are no workers: the calling thread runs every row.
import type { KernelExports } from './module.ts';

/** The kernels that take a row range (n0, n1) as their last two arguments (attention: a range of heads). */
export const ROW_KERNELS = ['matvecF32', 'matvecF16', 'matmulF32', 'matmulF16', 'matvecQ8', 'matvecQ4', 'matmulQ8', 'matmulQ4', 'matvecQ8F32', 'attentionScores', 'attentionValues', 'attentionHeads', 'geluRows', 'addRows'] as const;
export type RowKernel = (typeof ROW_KERNELS)[number];

/** Shares start on multiples of 4 rows (by default), so matmul's blocks of rows never straddle two shares. */
const ROW_BLOCK = 4;
/**
 * Shares per thread at least: enough for a thread that is late to be made up by the others. 2 rather than 4: a
 * GPT-2 124M q4 decode step was 1.5-2.8% faster (three runs in one process, alternated with 4), f32 the same, and as
 * fast under a competing busy process; each share is a claim, and a stream of weights the prefetcher starts anew.
 */
const SHARES_PER_THREAD = 2;
/**
 * Multiply-adds a share holds at most (about 80 us of q4 on one core, 300 of f32): the caller waits at the end of
 * a job for the last share a worker claimed, so a large job (the LM head's 38.6M) is cut finer than its threads *
 * SHARES_PER_THREAD shares. A GPT-2 124M decode step's other matvecs (0.6M to 2.4M) are then 4 shares each, its
 * LM head 19. Each share costs about a microsecond besides its work (its claim, a compare-and-swap on a word both
 * threads write, the kernel's call, a stream of weights the prefetcher starts anew), so fewer shares are faster
 * until the wait at a job's end grows: against 2^18 (7 to 9 shares, the LM head 147), in one process, alternated
 * blocks of 8 steps, 20 rounds: q4 0.830x the time, f32 0.969x; with a busy process beside it, q4 0.918x and f32
 * 1.003x (2^20: 0.897x and 0.949x quiet, 0.974x and 1.102x busy; one share a thread: 0.800x and 0.970x quiet,
 * 0.997x and 1.014x busy).
 */
const SHARE_WORK = 1 << 21;
/**
 * Jobs of fewer multiply-adds run on the calling thread alone: about 10 us of work on one core, against the cost of
 * handing a share to a worker (a few us when it spins, tens of us to a timeslice when it sleeps or the machine is
 * busy), which small matvecs (the embedded model's 128 x 384) would pay for nothing.
 */
export const MIN_SPLIT_WORK = 1 << 17;
/** The control block (Int32 indices; worker.js reads the same layout): the epilogue's arguments follow the kernel's at args + MAX_ARGS. */
const CONTROL = { job: 0, claim: 1, active: 2, kernel: 3, argc: 4, failed: 5, rows: 6, size: 7, shares: 8, workers: 9, then: 10, thenArgc: 11, args: 12 } as const;
/** Arguments a kernel may take, before n0 and n1. */
const MAX_ARGS = 14;
/** The claim word is job * CLAIM_SPAN + next share: shares per job stay below it, job numbers below 2^31 / it. */
const CLAIM_SPAN = 4096;
const MAX_JOB = Math.floor(0x7fffffff / CLAIM_SPAN);
/** How long the caller spins on ACTIVE before sleeping on it (where this thread may sleep). */
const SPIN = 20000;

export class ThreadPool {
  private jobs = 0;
  private readonly ctl: Int32Array;
  /** Threads a job is split over: all of them, unless limited (the bench compares 1 thread with 2). */
  private active: number;

  private constructor(
    private readonly exports: KernelExports,
    private readonly workers: WorkerHandle[],
    control: SharedArrayBuffer | undefined,
    private readonly minSplitWork: number,
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
  static async create(module: WebAssembly.Module, memory: WebAssembly.Memory, exports: KernelExports, threads: number, minSplitWork = MIN_SPLIT_WORK): Promise<ThreadPool> {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`threads must be a positive integer, got ${threads}`);
    if (threads === 1) return new ThreadPool(exports, [], undefined, minSplitWork);
    if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('worker threads need a shared WebAssembly memory (SharedArrayBuffer)');
    const control = new SharedArrayBuffer((CONTROL.args + 2 * MAX_ARGS) * 4);
    const workers: WorkerHandle[] = [];
    try {
      for (let slot = 0; slot < threads - 1; slot++) {
        workers.push(await startWorker({ module, memory, control, slot, layout: CONTROL, maxArgs: MAX_ARGS, claimSpan: CLAIM_SPAN, kernels: ROW_KERNELS }));
      }
    } catch (err) {
      for (const w of workers) w.terminate();
      throw err;
    }
    return new ThreadPool(exports, workers, control, minSplitWork);
  }

  /**
   * Run `kernel(...args, n0, n1)` over rows 0 .. N - 1, in shares claimed by the threads that start on multiples
   * of `block` rows; `work` (multiply-adds) below the pool's minSplitWork runs on the calling thread alone. With
   * `then`, each share runs that kernel on its own rows right after (an epilogue: a matmul's GELU or residual add,
   * done by the thread that just wrote them, instead of by the caller alone after the job).
   */
  runRows(kernel: RowKernel, args: number[], N: number, work: number, block = ROW_BLOCK, then?: Epilogue): void {
    const main = this.kernel(kernel);
    const next = then && this.kernel(then.kernel);
    const fn = next
      ? (...a: number[]): void => {
          main(...a);
          next(...then!.args, a[a.length - 2]!, a[a.length - 1]!);
        }
      : main;
    const wanted = this.active === 1 || work < this.minSplitWork ? 1 : Math.max(this.active * SHARES_PER_THREAD, Math.ceil(work / SHARE_WORK));
    const size = shareSize(N, Math.min(wanted, CLAIM_SPAN - 1), block);
    const shares = Math.ceil(N / size);
    if (shares === 1) {
      fn(...args, 0, N);
      return;
    }
    if (args.length > MAX_ARGS || (then && then.args.length > MAX_ARGS)) throw new Error(`${kernel}: too many arguments for the worker threads`);
    const ctl = this.ctl;
    const job = (this.jobs = (this.jobs % MAX_JOB) + 1); // stays positive: -1 means stop
    // The last job's claims end here, before its arguments are overwritten (see the header).
    Atomics.exchange(ctl, CONTROL.claim, job * CLAIM_SPAN);
    ctl[CONTROL.kernel] = ROW_KERNELS.indexOf(kernel);
    ctl[CONTROL.argc] = args.length;
    for (let i = 0; i < args.length; i++) ctl[CONTROL.args + i] = args[i]! | 0;
    ctl[CONTROL.then] = then ? ROW_KERNELS.indexOf(then.kernel) : -1;
    ctl[CONTROL.thenArgc] = then ? then.args.length : 0;
    for (let i = 0; then && i < then.args.length; i++) ctl[CONTROL.args + MAX_ARGS + i] = then.args[i]! | 0;
    ctl[CONTROL.rows] = N;
    ctl[CONTROL.size] = size;
    ctl[CONTROL.shares] = shares;
    ctl[CONTROL.workers] = this.active - 1;
    ctl[CONTROL.failed] = 0;
    Atomics.store(ctl, CONTROL.job, job);
    Atomics.notify(ctl, CONTROL.job);
    // The caller's shares; whatever happens to one, the workers finish theirs before the block is written again.
    let error: unknown;
    try {
      for (let c = this.claim(job, shares); c >= 0; c = this.claim(job, shares)) fn(...args, c * size, Math.min(N, (c + 1) * size));
    } catch (err) {
      error = err;
    }
    this.waitIdle();
    if (error) throw error;
    if (ctl[CONTROL.failed] !== 0) throw new Error(`${kernel}: a worker thread failed (its message follows on the console)`);
  }

  /** Stop the workers. */
  destroy(): void {
    if (this.workers.length) {
      Atomics.store(this.ctl, CONTROL.job, -1);
      Atomics.notify(this.ctl, CONTROL.job);
    }
    for (const w of this.workers) w.terminate();
    this.workers.length = 0;
  }

  private kernel(name: RowKernel): (...args: number[]) => void {
    return this.exports[name] as (...args: number[]) => void;
  }

  /** The next unclaimed share of `job`, or -1 when every share is claimed. */
  private claim(job: number, shares: number): number {
    for (;;) {
      const v = Atomics.load(this.ctl, CONTROL.claim);
      if (Math.floor(v / CLAIM_SPAN) !== job || v % CLAIM_SPAN >= shares) return -1;
      if (Atomics.compareExchange(this.ctl, CONTROL.claim, v, v + 1) === v) return v % CLAIM_SPAN;
    }
  }

  /** Wait until no worker is computing a share. */
  private waitIdle(): void {
    for (let spin = 0; ; spin++) {
      const n = Atomics.load(this.ctl, CONTROL.active);
      if (n === 0) return;
      // A browser's main thread may not sleep (Atomics.wait throws there): it keeps spinning.
      if (spin >= SPIN && canSleep) Atomics.wait(this.ctl, CONTROL.active, n, 100);
    }
  }
}

/** A kernel each share runs on its own rows after the job's kernel: `kernel(...args, n0, n1)`. */
export interface Epilogue {
  kernel: RowKernel;
  args: number[];
}

/** Whether this thread may block in Atomics.wait: Node's main thread and workers may; a browser's main thread not. */
const canSleep = typeof (globalThis as { window?: unknown }).window === 'undefined';

/** Rows a share of N rows cut into `shares` holds: ceil(N / shares), rounded up to whole blocks of rows. */
function shareSize(N: number, shares: number, block = ROW_BLOCK): number {
  return Math.ceil(Math.ceil(N / block) / shares) * block;
}

/** [n0, n1) per share: shareSize rows each (the last one fewer); no empty shares. */
export function splitRows(N: number, shares: number): [number, number][] {
  const size = shareSize(N, shares);
  const out: [number, number][] = [];
  for (let n0 = 0; n0 < N; n0 += size) out.push([n0, Math.min(N, n0 + size)]);
  return out;
}

/** Minimal view of a Node Worker or a Web Worker: what the pool uses. */
interface WorkerHandle {
  postMessage(message: unknown): void;
  terminate(): unknown;
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
