// A worker thread of the WebAssembly kernels (src/backend/wasm/pool.ts), for Node worker_threads and Web Workers
// alike. Plain JavaScript so that both load it as it is, with no build step.
//
// It receives the compiled module, the shared memory and the control block once, instantiates the kernels over
// that memory, says 'ready', and then serves jobs until told to stop. Its slot of the control block (Int32):
//   [0] job: bumped by the main thread for each job; -1 means stop
//   [1] done: set to the job's number when this thread's share is written (or the kernel failed)
//   [2] kernel: index into the kernel names sent at start
//   [3] argc
//   [4] failed: 1 when the kernel threw (its message is posted to the main thread)
//   [5...] the arguments (pointers and sizes, all 32-bit integers)
// Between jobs it spins briefly (the next matvec of a decode step comes within microseconds), then sleeps in
// Atomics.wait until the main thread notifies it.

const SPIN = 20000;

function serve(init, post) {
  const { module, memory, control, slot, slotInts, kernels, argBase, failedAt } = init;
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  const ctl = new Int32Array(control);
  const base = slot * slotInts;
  const fns = kernels.map((name) => instance.exports[name]);
  // The last job seen is read before saying 'ready': once the main thread hears it, it may post job 1 at once.
  let seen = Atomics.load(ctl, base);
  post('ready');
  for (;;) {
    let job = Atomics.load(ctl, base);
    for (let spin = 0; job === seen; spin++) {
      if (spin >= SPIN) Atomics.wait(ctl, base, seen);
      job = Atomics.load(ctl, base);
    }
    if (job < 0) return;
    const argc = ctl[base + 3];
    const args = [];
    for (let i = 0; i < argc; i++) args.push(ctl[base + argBase + i]);
    try {
      fns[ctl[base + 2]](...args);
    } catch (err) {
      ctl[base + failedAt] = 1;
      post(`${kernels[ctl[base + 2]]}: ${err && err.message}`);
    }
    Atomics.store(ctl, base + 1, job);
    Atomics.notify(ctl, base + 1);
    seen = job;
  }
}

if (typeof WorkerGlobalScope !== 'undefined' && typeof self !== 'undefined') {
  self.addEventListener('message', (event) => serve(event.data, (m) => self.postMessage(m)), { once: true });
} else {
  const { parentPort } = await import('node:worker_threads');
  parentPort.once('message', (init) => serve(init, (m) => parentPort.postMessage(m)));
}
