// GPT-2: pre-LayerNorm blocks, learned position embeddings, fused q | k | v (c_attn) with biases, a GELU MLP four
// times as wide as the stream, and the LM head tied to the token embeddings. What every architecture shares
// (stepping, the KV cache, the head) is in transformer.ts; the parameters and their names are in gpt2-params.ts.
// Module names copy the Hugging Face checkpoint (wte, wpe, h, ln_1, c_attn, c_proj, ln_2, c_fc, ln_f).
import type { Act, Backend, Matrix, Norm } from '../backend/index.ts';
import type { Device } from '../backend/device.ts';
import type { GPT2Config } from './config.ts';
import { ModelShapeError, TANH_GELU, type GPT2Params, type LinearParams, type NormParams } from './gpt2-params.ts';
import type { WeightFormat } from './model.ts';
import type { Step } from './step.ts';
import { Transformer, type RunOptions, type TransformerWeights } from './transformer.ts';

export { ModelShapeError, readGPT2Params, roundGPT2Params, TANH_GELU, type GPT2Params } from './gpt2-params.ts';

/** One block's weights, as the backend holds them. */
export interface GPT2Block {
  ln_1: Norm;
  attn: { c_attn: Matrix; c_proj: Matrix }; // [3C, C], [C, C]
  ln_2: Norm;
  mlp: { c_fc: Matrix; c_proj: Matrix }; // [I, C], [C, I]
}

export class GPT2 extends Transformer<GPT2Block> {
  constructor(
    gpu: Device,
    readonly config: GPT2Config,
    params: GPT2Params,
    weightFormat: WeightFormat = 'f32',
    options: Omit<RunOptions, 'weights'> = {},
  ) {
    if (!TANH_GELU.has(config.activation)) {
      throw new ModelShapeError(`activation_function "${config.activation}" is not implemented; wgpt runs GPT-2's tanh GELU (gelu_new)`);
    }
    const { nEmbd: C, nHead: NH, nInner: I, nPositions: P } = config;
    const dims = { arch: 'gpt2' as const, nLayer: config.nLayer, C, NH, NKV: NH, HS: C / NH, I, V: config.vocabSize };
    // GPT-2's context is short (1024 at most): by default one step runs all of it, wherever the buffers allow
    const spec = { dims, nCtx: P, norm: 'layernorm' as const, eps: config.layerNormEpsilon, mlpWidth: I, stepTokens: options.maxStepTokens ?? P };
    super(gpu, spec, { ...options, weights: weightFormat }, (backend) => upload(backend, params));
  }

  /** nanoGPT's Block.forward. */
  protected block(x: Step, b: GPT2Block): void {
    x.add('attn', x.attention(x.norm('ln1', b.ln_1), b.attn.c_attn, b.attn.c_proj)); // x = x + attn(ln_1(x))
    x.add('mlp', mlp(x, b.mlp, x.norm('ln2', b.ln_2))); // x = x + mlp(ln_2(x))
  }
}

/** nanoGPT's MLP: c_proj(gelu(c_fc(h))), n_inner (4C) wide inside. */
function mlp(x: Step, m: GPT2Block['mlp'], h: Act): Act {
  const fc = x.linear(h, m.c_fc); // (T, I)
  return x.linear(x.gelu(fc), m.c_proj); // (T, C)
}

/** Every parameter onto the backend, named as in the checkpoint. */
function upload(backend: Backend, params: GPT2Params): TransformerWeights<GPT2Block> {
  const { nEmbd: C, vocabSize: V, nPositions: P } = params.config;
  const linear = (l: LinearParams, label: string) => backend.matrix(l.weight, l.bias, l.out, l.in, label);
  const norm = (n: NormParams, label: string) => backend.norm(n.weight, n.bias, label);
  const wte = backend.matrix(params.wte, undefined, V, C, 'wte');
  return {
    embed: wte,
    positions: backend.matrix(params.wpe, undefined, P, C, 'wpe'),
    blocks: params.h.map((b, i) => ({
      ln_1: norm(b.ln_1, `h.${i}.ln_1`),
      attn: { c_attn: linear(b.attn.c_attn, `h.${i}.attn.c_attn`), c_proj: linear(b.attn.c_proj, `h.${i}.attn.c_proj`) },
      ln_2: norm(b.ln_2, `h.${i}.ln_2`),
      mlp: { c_fc: linear(b.mlp.c_fc, `h.${i}.mlp.c_fc`), c_proj: linear(b.mlp.c_proj, `h.${i}.mlp.c_proj`) },
    })),
    norm: norm(params.ln_f, 'ln_f'),
    lmHead: wte, // tied
  };
}
