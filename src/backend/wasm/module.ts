// Loading the WebAssembly kernels: the compiled module (built from assembly/ by `npm run build:wasm`), a check
// that the runtime has SIMD, and the memory every instance of it shares.
//
// Four builds of the same source: kernels.shared.wasm imports a shared memory (SharedArrayBuffer, which worker
// threads can see), kernels.wasm a plain one, for runtimes without SharedArrayBuffer (a page that is not
// cross-origin isolated). A module must import the kind of memory it was built for. Each also comes with relaxed
// SIMD (kernels.relaxed.wasm, kernels.shared.relaxed.wasm), which q4's kernels use for int8 dot products
// (assembly/matmul_q.ts); both builds give the same bits, the relaxed one faster. It is loaded where the runtime
// has relaxed SIMD: Chrome 114+, Node 22+, and Node 20, where it sits behind a V8 flag that this module turns on
// before compiling (enableRelaxedSimd).

/** The signatures of the kernels in assembly/index.ts. Pointers are byte addresses in the shared memory. */
export interface KernelExports {
  heapBase(): number;
  matvecF32(out: number, a: number, w: number, bias: number, K: number, n0: number, n1: number): void;
  matvecF16(out: number, a: number, w: number, bias: number, K: number, n0: number, n1: number): void;
  matmulF32(out: number, a: number, w: number, bias: number, M: number, N: number, K: number, n0: number, n1: number): void;
  matmulF16(out: number, a: number, w: number, bias: number, M: number, N: number, K: number, n0: number, n1: number): void;
  quantizeActs(aq: number, a: number, M: number, K: number, q4: number, grouped: number): void;
  matvecQ8(out: number, aq: number, w: number, scales: number, bias: number, K: number, n0: number, n1: number): void;
  matvecQ4(out: number, aq: number, w: number, scales: number, bias: number, K: number, n0: number, n1: number): void;
  matmulQ8(out: number, aq: number, w: number, scales: number, bias: number, M: number, N: number, K: number, n0: number, n1: number): void;
  matmulQ4(out: number, aq: number, w: number, scales: number, bias: number, M: number, N: number, K: number, n0: number, n1: number): void;
  matvecQ8F32(out: number, a: number, w: number, scales: number, bias: number, K: number, n0: number, n1: number): void;
  layerNorm(out: number, x: number, gamma: number, beta: number, rows: number, C: number, eps: number): void;
  rmsNorm(out: number, x: number, gamma: number, rows: number, C: number, eps: number): void;
  softmax(x: number, rows: number, cols: number): void;
  attentionScores(
    scores: number, q: number, kCache: number,
    T: number, pos0: number, nHead: number, nKVHead: number, headDim: number, nCtx: number, qStride: number, qOffset: number, scaleBits: number,
    h0: number, h1: number,
  ): void;
  attentionValues(z: number, pattern: number, vCache: number, T: number, pos0: number, nHead: number, nKVHead: number, headDim: number, nCtx: number, h0: number, h1: number): void;
  attentionHeads(
    z: number, scores: number, q: number, kCache: number, vCache: number,
    T: number, pos0: number, nHead: number, nKVHead: number, headDim: number, nCtx: number, qStride: number, qOffset: number, scaleBits: number,
    h0: number, h1: number,
  ): void;
  gelu(x: number, n: number): void;
  geluRows(x: number, M: number, N: number, n0: number, n1: number): void;
  addRows(x: number, y: number, M: number, N: number, n0: number, n1: number): void;
  swiglu(out: number, gateUp: number, rows: number, I: number): void;
  residualAdd(x: number, y: number, n: number): void;
  rope(x: number, invFreq: number, T: number, pos0: number, nHeads: number, headDim: number, half: number, stride: number, offset: number): void;
  embed(out: number, ids: number, wte: number, wteF16: number, wpe: number, wpeF16: number, T: number, C: number, pos0: number): void;
  embedQ(out: number, ids: number, wte: number, wteScales: number, wpe: number, wpeScales: number, q8: number, T: number, C: number, pos0: number): void;
  kvAppend(cache: number, src: number, T: number, pos0: number, nKVHead: number, headDim: number, nCtx: number, srcStride: number, srcOffset: number): void;
  intervene(
    x: number, src: number,
    o0: number, nO: number, r0: number, nR: number, c0: number, nC: number,
    outerStride: number, rowStride: number, offset: number, rowBase: number,
    srcMode: number, seed: number, scale: number, sigma: number,
  ): void;
}

/** 64 KiB pages; 65536 of them is the 4 GiB a wasm32 memory can address. */
export const PAGE_BYTES = 65536;
export const MAX_PAGES = 65536;

/** Whether memory can be shared with worker threads here (in a browser, only on a cross-origin-isolated page). */
export function canShareMemory(): boolean {
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return typeof SharedArrayBuffer !== 'undefined' && isolated !== false;
}

/** A module of one function returning a v128 constant: it validates only where WebAssembly has SIMD128. */
const SIMD_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: () -> v128
  0x03, 0x02, 0x01, 0x00, // function section
  0x0a, 0x16, 0x01, 0x14, 0x00, 0xfd, 0x0c, ...new Array<number>(16).fill(0), 0x0b, // code: v128.const 0
]);

export function hasWasmSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
}

/** The same with i16x8.relaxed_dot_i8x16_i7x16_s on two zero vectors: it validates only where there is relaxed SIMD. */
const RELAXED_PROBE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00,
  0x0a, 0x2b, 0x01, 0x29, 0x00,
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x0c, ...new Array<number>(16).fill(0),
  0xfd, 0x92, 0x02, // i16x8.relaxed_dot_i8x16_i7x16_s (0x112)
  0x0b,
]);

export function hasRelaxedSimd(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
}

/**
 * Whether relaxed SIMD is on, after turning it on where it can be: Node 20 has it behind
 * --experimental-wasm-relaxed-simd (on by default from Node 22, as in Chrome), a V8 flag that may be set while the
 * process runs, before a module is compiled; it holds for the whole process, worker threads included.
 */
export async function enableRelaxedSimd(): Promise<boolean> {
  if (hasRelaxedSimd()) return true;
  if (typeof process === 'undefined' || !process.versions?.node) return false;
  try {
    const v8 = await import('node:v8');
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  } catch {
    return false;
  }
  return hasRelaxedSimd();
}

/** The compiled kernels, for a shared or a plain memory, with or without relaxed SIMD; compiled once per kind and process. */
const compiled = new Map<string, Promise<WebAssembly.Module>>();

export function compileKernels(shared: boolean, relaxed: boolean): Promise<WebAssembly.Module> {
  const key = `${shared}/${relaxed}`;
  let module = compiled.get(key);
  if (!module) {
    module = compile(shared, relaxed);
    compiled.set(key, module);
    module.catch(() => compiled.delete(key));
  }
  return module;
}

async function compile(shared: boolean, relaxed: boolean): Promise<WebAssembly.Module> {
  if (!hasWasmSimd()) {
    throw new Error('this JavaScript runtime has no WebAssembly SIMD (Node 16.4+, Chrome 91+, Firefox 89+, Safari 16.4+ have it); use the WebGPU device instead');
  }
  if (relaxed && !hasRelaxedSimd()) throw new Error('this JavaScript runtime has no WebAssembly relaxed SIMD (Node 20 needs --experimental-wasm-relaxed-simd); use the kernels without it');
  // literal URLs, so that bundlers (Vite) see and copy every file
  const url = relaxed
    ? shared ? new URL('../../../build/wasm/kernels.shared.relaxed.wasm', import.meta.url) : new URL('../../../build/wasm/kernels.relaxed.wasm', import.meta.url)
    : shared ? new URL('../../../build/wasm/kernels.shared.wasm', import.meta.url) : new URL('../../../build/wasm/kernels.wasm', import.meta.url);
  return WebAssembly.compile(await readBytes(url));
}

async function readBytes(url: URL): Promise<BufferSource> {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    try {
      return new Uint8Array(await readFile(url));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`the WebAssembly kernels are not built (no ${url.pathname}); run \`npm run build:wasm\``);
      throw err;
    }
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`could not load the WebAssembly kernels from ${url} (HTTP ${response.status}); run \`npm run build:wasm\` before building the site`);
  return response.arrayBuffer();
}

/** A memory of `pages` pages that may grow to 4 GiB, shared when `shared`. */
export function createMemory(shared: boolean, pages = 16): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared });
}

export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
