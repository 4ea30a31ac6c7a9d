// The browser cannot read shaders/ from disk, so the build bundles every .wgsl file, shaders/lib/ included, as a
// string and hands them to the runtime under their paths below shaders/ ('matmul.v2.wgsl', 'lib/half.wgsl'): the
// names kernels ask for and #include lines use.
import { registerShaderSources } from 'wgpt';

const ROOT = '../../../shaders/';
const bundled = import.meta.glob<string>('../../../shaders/**/*.wgsl', { query: '?raw', import: 'default', eager: true });

export function registerBundledShaders(): void {
  const files: Record<string, string> = {};
  for (const [path, text] of Object.entries(bundled)) files[path.slice(ROOT.length)] = text;
  registerShaderSources(files);
}
