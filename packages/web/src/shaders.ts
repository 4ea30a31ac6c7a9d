// The browser cannot read shaders/ from disk, so the build bundles every .wgsl file as a string and hands them to
// the runtime under their bare file names ('matmul.v2.wgsl'), the names kernels ask for.
import { registerShaderSources } from 'wgpt';

const bundled = import.meta.glob<string>('../../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });

export function registerBundledShaders(): void {
  const files: Record<string, string> = {};
  for (const [path, text] of Object.entries(bundled)) files[path.slice(path.lastIndexOf('/') + 1)] = text;
  registerShaderSources(files);
}
