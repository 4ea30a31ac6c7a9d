// #include in WGSL sources (src/gpu/shaders.ts): expanded before the constants and #if blocks, recursively, each
// file once, with one clear line for a mistake.
import { describe, expect, it } from 'vitest';
import { assembleShader, expandIncludes, registerShaderSources } from '../../src/gpu/shaders.ts';

registerShaderSources({
  'include-test/main.wgsl': '// main\n#include "include-test/a.wgsl"\n#include "include-test/b.wgsl"\nfn main() {}',
  'include-test/a.wgsl': '#include "include-test/common.wgsl"\nfn a() {}',
  'include-test/b.wgsl': '#include "include-test/common.wgsl"\n#include "include-test/a.wgsl"\nfn b() {}',
  'include-test/common.wgsl': 'const N = ${N}u;\n#if ${WIDE}\nalias T = vec4<f32>;\n#else\nalias T = f32;\n#endif',
  'include-test/cycle.wgsl': '#include "include-test/cycle.wgsl"\nfn c() {}',
  'include-test/missing.wgsl': '#include "include-test/nowhere.wgsl"',
  'include-test/in-if.wgsl': '#if ${X}\n#include "include-test/a.wgsl"\n#endif',
  'include-test/bad.wgsl': '#include <include-test/a.wgsl>',
});

describe('#include', () => {
  it('pastes each file once, at its first include, depth first', () => {
    const lines = expandIncludes('include-test/main.wgsl').split('\n').filter(Boolean);
    expect(lines.filter((l) => l.startsWith('const N'))).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('fn '))).toEqual(['fn a() {}', 'fn b() {}', 'fn main() {}']);
  });

  it('fills the constants of included files and resolves their #if blocks', () => {
    const code = assembleShader('include-test/main.wgsl', { N: 3, WIDE: true });
    expect(code).toContain('const N = 3u;');
    expect(code).toContain('alias T = vec4<f32>;');
    expect(code).not.toContain('alias T = f32;');
    expect(() => assembleShader('include-test/main.wgsl', { N: 3 })).toThrow('shader include-test/main.wgsl needs the constant WIDE');
  });

  it('stops at a file that includes itself', () => {
    expect(expandIncludes('include-test/cycle.wgsl').trim()).toBe('fn c() {}');
  });

  it('says which include is missing, misplaced or misspelt', () => {
    expect(() => expandIncludes('include-test/missing.wgsl')).toThrow('shader include-test/missing.wgsl includes "include-test/nowhere.wgsl", which does not exist in shaders/');
    expect(() => expandIncludes('include-test/in-if.wgsl')).toThrow(/stands inside an #if block; move it to the top level/);
    expect(() => expandIncludes('include-test/bad.wgsl')).toThrow('write an include as #include "lib/<file>.wgsl"');
    expect(() => assembleShader('no-such-kernel.wgsl')).toThrow('shader no-such-kernel.wgsl does not exist in shaders/');
  });
});
