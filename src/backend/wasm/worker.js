// A worker thread of the WebAssembly kernels (src/backend/wasm/pool.ts), for Node worker_threads and Web Workers
// alike. Plain JavaScript so that both load it as it is, with no build step.
//
// It receives the compiled module, the shared memory and the control block once, instantiates the kernels over
// that memory, says 'ready', and then serves jobs until told to stop. The control block (Int32, the indices in
// `layout`, shared by every worker):
//   job      bumped by the main thread for each job; -1 means stop
//   claim    job * claimSpan + the next share to compute: a share is claimed by compare-and-swap on it
//   active   workers computing shares now (the main thread waits for 0)
//   kernel   index into the kernel names sent at start; argc, args: its arguments (pointers and sizes, all 32-bit
//            integers), before the rows n0, n1 of a share
//   then     -1, or the kernel each share runs next on its rows (an epilogue); thenArgc, and its arguments at
//            args + maxArgs
//   rows, size, shares   N, rows per share, shares in the job
//   workers  how many workers take part (slots 0 .. workers - 1)
//   failed   1 when a kernel threw (its message is posted to the main thread)
// Between jobs it spins briefly (the next matvec of a decode step comes within microseconds), then sleeps in
// Atomics.wait until the main thread notifies it.

const SPIN = 20000;

function serve(init, post) {
  const { module, memory, control, slot, layout: L, maxArgs, claimSpan, kernels } = init;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const ctl = new Int32Array(control);
  const fns = kernels.map((name) => instance.exports[name]);
  // The last job seen is read before saying 'ready': once the main thread hears it, it may post job 1 at once.
  let seen = Atomics.load(ctl, L.job);
  post('ready');
  for (;;) {
    let job = Atomics.load(ctl, L.job);
    for (let spin = 0; job === seen; spin++) {
      if (spin >= SPIN) Atomics.wait(ctl, L.job, seen);
      job = Atomics.load(ctl, L.job);
    }
    if (job < 0) return;
    seen = job;
    if (slot >= ctl[L.workers]) continue;
    Atomics.add(ctl, L.active, 1);
    // The arguments are read before any claim: a claim that succeeds proves they were this job's (see pool.ts).
    const kernel = ctl[L.kernel];
    const args = [];
    for (let i = 0; i < ctl[L.argc]; i++) args.push(ctl[L.args + i]);
    const then = ctl[L.then];
    const thenArgs = [];
    for (let i = 0; i < ctl[L.thenArgc]; i++) thenArgs.push(ctl[L.args + maxArgs + i]);
    const [N, size, shares] = [ctl[L.rows], ctl[L.size], ctl[L.shares]];
    try {
      for (;;) {
        const v = Atomics.load(ctl, L.claim);
        if (Math.floor(v / claimSpan) !== job || v % claimSpan >= shares) break;
        if (Atomics.compareExchange(ctl, L.claim, v, v + 1) !== v) continue;
        const c = v % claimSpan;
        const [n0, n1] = [c * size, Math.min(N, (c + 1) * size)];
        fns[kernel](...args, n0, n1);
        if (then >= 0) fns[then](...thenArgs, n0, n1);
      }
    } catch (err) {
      Atomics.store(ctl, L.failed, 1);
      post(`${kernels[kernel]}${then >= 0 ? ` then ${kernels[then]}` : ''}: ${err && err.message}`);
    }
    if (Atomics.sub(ctl, L.active, 1) === 1) Atomics.notify(ctl, L.active);
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined') {
  self.addEventListener('message', (event) => serve(event.data, (m) => self.postMessage(m)), { once: true });
} else {
  const { parentPort } = await import('node:worker_threads');
  parentPort.once('message', (init) => serve(init, (m) => parentPort.postMessage(m)));
}
