// One op, one registry. Each kernel file declares its versions once, with defineKernel: the name a caller,
// a test or the bench uses, the shader file, the uniform struct, what the version changes, and where it is the
// default. The kernel dispatches through that list, its tests and the bench run every version on it, and the
// default is chosen from it: a new version is its shader, one entry here and its dispatch, and nothing else.
import type { UniformStruct } from '../gpu/uniforms.ts';

/**
 * The two kinds of adapter versions are chosen for. Reductions across a workgroup (shared memory plus barriers)
 * keep a real GPU's cores and memory busy; on a CPU implementation of WebGPU such as SwiftShader every barrier
 * stops and restarts the workgroup's threads, and one invocation doing a whole row alone is many times faster.
 * So kernels with both kinds of version make the barrier-free one the default on 'software' adapters.
 */
export type AdapterKind = 'hardware' | 'software';

/** The kind of `gpu`'s adapter; one of unknown kind counts as hardware. */
export function adapterKind(gpu: { info: { kind: string } }): AdapterKind {
  return gpu.info.kind === 'software' ? 'software' : 'hardware';
}

export interface VersionSpec {
  /** What `options.version`, the tests and the bench call it: v1, v2, ... */
  name: string;
  /** The uniform struct its shader declares (test/kernels/uniforms.test.ts checks that they agree). */
  uniforms: UniformStruct<string>;
  /** One line: what it changes from the version before it (for the first, how it works). */
  changes: string;
  /** The adapters it is the default on; none for a version kept to be compared with and timed. */
  defaultOn: readonly AdapterKind[];
}

export type KernelVersion<S extends VersionSpec = VersionSpec> = S & {
  /** Its file in shaders/: `<kernel>.<version>.wgsl`, or `<kernel>.wgsl` for a kernel with one version. */
  shader: string;
};

/**
 * The two versions every row kernel (layerNorm, rmsNorm, softmax) comes in: v1 spends a workgroup on a row and
 * combines its threads' partial results in workgroup memory; v2 gives each row to one invocation.
 */
export const ROW_VERSIONS = {
  v1: { name: 'v1', defaultOn: ['hardware'], changes: 'a workgroup per row, its partial results combined by tree reductions' },
  v2: { name: 'v2', defaultOn: ['software'], changes: 'one invocation per row walking it alone: no workgroup memory, no barriers' },
} as const;

export interface Kernel<S extends VersionSpec = VersionSpec> {
  /** The kernel function's name in src/kernels (matmul, layerNorm, ...), which its shader files start with. */
  name: string;
  versions: readonly KernelVersion<S>[];
  /** The version called `name`. */
  version(name: S['name']): KernelVersion<S>;
  /**
   * The version to run when the caller names none: the one that is the default on `gpu`'s kind of adapter, among
   * those that `fits` the call (matmul: the one-row versions for one row). The list must name exactly one.
   */
  defaultFor(gpu: { info: { kind: string } }, fits?: (version: KernelVersion<S>) => boolean): KernelVersion<S>;
}

export function defineKernel<const S extends VersionSpec>(name: string, specs: readonly S[]): Kernel<S> {
  const versions = specs.map((spec) => ({ ...spec, shader: specs.length === 1 ? `${name}.wgsl` : `${name}.${spec.name}.wgsl` }));
  return {
    name,
    versions,
    version(wanted) {
      const found = versions.find((v) => v.name === wanted);
      if (!found) throw new Error(`${name} has no version ${wanted}; its versions are ${versions.map((v) => v.name).join(', ')}`);
      return found;
    },
    defaultFor(gpu, fits = () => true) {
      const kind = adapterKind(gpu);
      const found = versions.filter((v) => v.defaultOn.includes(kind) && fits(v));
      if (found.length !== 1) throw new Error(`${name}: ${found.length} versions are the default on a ${kind} adapter for this call; its version list must name one`);
      return found[0]!;
    },
  };
}
