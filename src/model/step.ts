// The ops a block is written in. Each op runs its primitives on the backend (src/backend) and fires the
// TransformerLens hooks of the place it sits, as a HookPoint module does there: so a block is its data flow and
// nothing else, and every backend fires the same hooks at the same places.
//
// One step runs T tokens at positions pos0 .. pos0 + T - 1 (S = pos0 + T keys). Its activations, each in the slot
// of the backend named here, reused by every layer (QKV = (NH + 2 NKV) HS, the fused q | k | v width):
//   x            [T, C]       the residual stream             ln         [T, C]    ln1 / ln2 output
//   <module>     [T, rows]    a linear layer's output, in the slot named after it (attn.c_attn, mlp.c_fc, ...)
//   scores       [NH, T, S]   attention scores, then (in place) the pattern
//   attn_result  [T, NH*C]    each head's share of the output projection, only when hook_result is asked for
//   z            [T, NH*HS]   pattern-weighted values        mlp.hidden [T, I]    silu(gate) * up
//   last         [1, C]       the last row, for the head     ln_final   [T, C]    the final norm's output
import type { FusedEpilogue } from '../backend/backend.ts';
import type { Act, BackendStep, HeadSlice, KVCache, Matrix, Norm, Vector } from '../backend/index.ts';
import type { HookView } from '../hooks/hooks.ts';
import { HOOK_POINTS } from '../hooks/points.ts';
import type { ModelDims } from './model.ts';

/** What every step of one model shares: its sizes, its norm, its RoPE, its KV cache. */
export interface StepContext {
  dims: ModelDims;
  norm: 'layernorm' | 'rmsnorm';
  eps: number;
  /** Rotary position embeddings: the frequencies of this call (ropeAngleScale applied), rotaryDim <= HS. */
  rope?: { invFreq: Vector; rotaryDim: number };
  cache: KVCache;
  /** Run the step's layers on the fused kernels where the backend has them (ForwardOptions.fused). */
  fused: boolean;
}

/**
 * A linear layer a fused step has not recorded yet: epilogue(norm(input) @ w^T + bias), or without `w` the norm
 * alone. What consumes it decides which fused kernel runs it (the norm goes into the matvec after it, the GELU or
 * SwiGLU into the one before, the residual add into c_proj's); anything else records it unfused first (real()).
 */
class Deferred implements Act {
  constructor(
    readonly shape: readonly number[],
    readonly input: Act,
    readonly norm?: Norm,
    readonly w?: Matrix,
    readonly epilogue?: FusedEpilogue,
    readonly slot?: string,
  ) {}
}

/** The hook points inside a block: a run asking for one of block l runs that block unfused. */
const BLOCK_HOOKS = HOOK_POINTS.filter((p) => p.pattern.startsWith('blocks.{i}.')).map((p) => p.pattern.slice('blocks.{i}.'.length));

export class Step {
  /** The residual stream [T, C]. */
  x!: Act;
  /** The block running: hooks inside it are named blocks.{layer}.... */
  private layer = -1;
  /** Whether the ops now running may defer their work to the fused kernels (see Deferred). */
  private fusing = false;

  constructor(
    readonly b: BackendStep,
    private c: StepContext,
  ) {}

  get T(): number {
    return this.b.T;
  }

  /** Fire a hook of the current block ("attn.hook_q" -> "blocks.3.attn.hook_q"), or a model-level one. */
  private at(hook: string, a: Act, view?: HookView): void {
    if (!this.b.hooked) return;
    this.b.hook(this.layer < 0 ? hook : `blocks.${this.layer}.${hook}`, a, view ?? { rows: this.T, cols: a.shape[1]! });
  }

  /**
   * x = wte[ids] (+ wpe[pos0 ..]: learned positions). The token and position parts are made apart only when a
   * hook reads or changes one of them; otherwise one kernel adds them.
   */
  embed(ids: readonly number[], wte: Matrix, wpe?: Matrix): void {
    const apart = wpe && (this.b.wants('hook_embed') || this.b.wants('hook_pos_embed'));
    this.x = this.b.embed('x', ids, wte, apart ? undefined : wpe);
    this.at('hook_embed', this.x);
    if (!apart) return;
    const pos = this.b.embed('pos_embed', Array.from(ids, (_, t) => this.b.pos0 + t), wpe);
    this.at('hook_pos_embed', pos);
    this.b.add(this.x, pos);
  }

  /** Enter block l: blocks.l.hook_resid_pre. */
  enter(l: number): void {
    this.layer = l;
    this.fusing = this.canFuse() && !(this.b.hooked && BLOCK_HOOKS.some((h) => this.b.wants(`blocks.${l}.${h}`)));
    this.at('hook_resid_pre', this.x);
  }

  /** A step on a backend with fused kernels, asked to use them. */
  private canFuse(): boolean {
    return this.c.fused && this.b.fused !== undefined;
  }

  /** ln1 / ln2 of the residual stream: blocks.l.<where>.hook_normalized. */
  norm(where: 'ln1' | 'ln2', w: Norm): Act {
    if (this.fusing) return new Deferred(this.x.shape, this.x, w);
    const h = this.normalize('ln', this.x, w);
    this.at(where === 'ln1' ? 'ln1.hook_normalized' : 'ln2.hook_normalized', h);
    return h;
  }

  private normalize(slot: string, x: Act, w: Norm): Act {
    const l = this.layer < 0 ? undefined : this.layer;
    return this.c.norm === 'layernorm' ? this.b.layerNorm(slot, x, w, this.c.eps, l) : this.b.rmsNorm(slot, x, w, this.c.eps, l);
  }

  /** h @ w^T + bias. */
  linear(h: Act, w: Matrix): Act {
    if (this.fusing) {
      const d = h instanceof Deferred && !h.w ? h : undefined;
      return new Deferred([this.T, w.rows], d ? d.input : this.real(h), d?.norm, w);
    }
    return this.b.linear(this.real(h), w, this.layer);
  }

  /**
   * A deferred activation recorded: by one fused matvec (norm, linear and epilogue), or where the backend cannot
   * fuse this call, by the unfused primitives. Any other activation is returned as it is.
   */
  private real(a: Act): Act {
    if (!(a instanceof Deferred)) return a;
    const { input, norm, w, epilogue, slot } = a;
    const l = this.layer < 0 ? undefined : this.layer;
    if (!w) return this.normalize('ln', input, norm!);
    const fusedNorm = norm && { w: norm, kind: this.c.norm, eps: this.c.eps };
    const out = this.b.fused!.normLinear(slot ?? (epilogue === 'swiglu' ? 'mlp.hidden' : w.label), input, fusedNorm, w, epilogue, l);
    if (out) return out;
    const h = norm ? this.normalize(this.layer < 0 ? 'ln_final' : 'ln', input, norm) : input;
    const y = this.b.linear(h, w, l, slot);
    if (epilogue === 'gelu') this.b.gelu(y, this.layer);
    return epilogue === 'swiglu' ? this.b.swiglu('mlp.hidden', y, this.layer) : y;
  }

  /**
   * Causal self-attention, for every architecture: q | k | v = qkv(h) (NKV key/value heads shared by NH query
   * heads; NKV = NH for GPT-2), RoPE on q and k where the model has it, k and v into the KV cache, scores over every
   * cached key, softmax, the pattern-weighted values, and the output projection out(z).
   */
  attention(h: Act, qkvProj: Matrix, outProj: Matrix): Act {
    const { b, c, T, layer } = this;
    const { NH, NKV, HS } = c.dims;
    if (this.fusing && h instanceof Deferred && !h.w) {
      // one token (a backend declines more): the norm, q | k | v, RoPE, the KV append and the attention in one kernel
      const z = b.fused!.attention(c.cache, h.input, { w: h.norm!, kind: c.norm, eps: c.eps }, qkvProj, c.dims, c.rope, layer);
      if (z) return this.linear(z, outProj);
    }
    const qkv = this.real(this.linear(h, qkvProj)); // (T, QKV)
    const q: HeadSlice = { offset: 0, heads: NH };
    const k: HeadSlice = { offset: NH * HS, heads: NKV };
    const v: HeadSlice = { offset: (NH + NKV) * HS, heads: NKV };
    const part = (p: HeadSlice): HookView => ({ rows: T, cols: p.heads * HS, rowStride: qkv.shape[1], offset: p.offset, headDim: HS });
    this.at('attn.hook_q', qkv, part(q));
    this.at('attn.hook_k', qkv, part(k));
    this.at('attn.hook_v', qkv, part(v));
    if (c.rope) {
      b.rope(qkv, q, c.rope.invFreq, HS, c.rope.rotaryDim, layer);
      b.rope(qkv, k, c.rope.invFreq, HS, c.rope.rotaryDim, layer);
      this.at('attn.hook_rot_q', qkv, part(q));
      this.at('attn.hook_rot_k', qkv, part(k));
    }
    b.kvAppend(c.cache, 'k', qkv, k, layer);
    b.kvAppend(c.cache, 'v', qkv, v, layer);
    const scores = b.attentionScores(c.cache, qkv, q, HS, layer); // (NH, T, S)
    const heads = { outer: NH, rows: T, cols: scores.shape[2]! };
    this.at('attn.hook_attn_scores', scores, heads);
    b.softmax(scores, 'attn_softmax', layer);
    this.at('attn.hook_pattern', scores, heads);
    const z = b.attentionValues(c.cache, scores, HS, layer); // (T, NH*HS)
    this.at('attn.hook_z', z, { rows: T, cols: NH * HS, headDim: HS });
    if (!b.wants(`blocks.${layer}.attn.hook_result`)) return this.linear(z, outProj); // (T, C)
    // asked for the per-head result: the projection head by head, then the heads summed, so a change reaches the output
    const result = b.attentionResult(z, outProj, NH, HS, layer); // (T, NH*C)
    this.at('attn.hook_result', result, { rows: T, cols: NH * c.dims.C, headDim: c.dims.C });
    return b.sumHeads(result, outProj, NH, layer); // (T, C)
  }

  /** GPT-2's MLP activation, in place: mlp.hook_pre before, mlp.hook_post after. */
  gelu(fc: Act): Act {
    if (this.fusing && fc instanceof Deferred && fc.w && !fc.epilogue) return new Deferred(fc.shape, fc.input, fc.norm, fc.w, 'gelu');
    fc = this.real(fc);
    this.at('mlp.hook_pre', fc);
    this.b.gelu(fc, this.layer);
    this.at('mlp.hook_post', fc);
    return fc;
  }

  /** silu(gate) * up of gate | up rows [T, 2I]: mlp.hook_pre is the gate half, mlp.hook_post the product. */
  swiglu(gateUp: Act): Act {
    const I = gateUp.shape[1]! / 2;
    if (this.fusing && gateUp instanceof Deferred && gateUp.w && !gateUp.epilogue) return new Deferred([this.T, I], gateUp.input, gateUp.norm, gateUp.w, 'swiglu');
    gateUp = this.real(gateUp);
    this.at('mlp.hook_pre', gateUp, { rows: this.T, cols: I, rowStride: 2 * I });
    const hidden = this.b.swiglu('mlp.hidden', gateUp, this.layer);
    this.at('mlp.hook_post', hidden);
    return hidden;
  }

  /**
   * The residual add after a branch: x = x + y. Fires the branch's output (hook_attn_out / hook_mlp_out), then the
   * stream after it (hook_resid_mid / hook_resid_post).
   */
  add(branch: 'attn' | 'mlp', y: Act): void {
    const attn = branch === 'attn';
    if (y instanceof Deferred && y.w && !y.norm && !y.epilogue && this.b.fused!.linearAdd(this.x, y.input, y.w, this.layer)) return; // c_proj + the add
    y = this.real(y);
    this.at(attn ? 'hook_attn_out' : 'hook_mlp_out', y);
    this.b.add(this.x, y, this.layer);
    this.at(attn ? 'hook_resid_mid' : 'hook_resid_post', this.x);
  }

  /**
   * The final norm and the LM head, on every row (`all`) or the last row only: logits [T, V] or [1, V]. Fires
   * ln_final.hook_normalized and logits.
   */
  head(rows: 'all' | 'last', norm: Norm, lmHead: Matrix): Act {
    this.layer = -1;
    const { T, b } = this;
    const last = rows === 'last';
    this.fusing = false;
    const where = last ? { rows: 1, firstRow: b.pos0 + T - 1 } : { rows: T };
    // one token: the final norm and the LM head in one kernel where the backend fuses them (not on SwiftShader:
    // see lmHeadFusedOn in src/kernels/fused.ts), unless a hook wants the normalised row
    const fused = T === 1 && this.canFuse() && !(b.hooked && b.wants('ln_final.hook_normalized'));
    const tail = fused ? b.fused!.head('lm_head', this.x, { w: norm, kind: this.c.norm, eps: this.c.eps }, lmHead) : undefined;
    if (tail) {
      this.at('logits', tail, { ...where, cols: tail.shape[1]! });
      return tail;
    }
    const h = this.normalize('ln_final', last && T > 1 ? b.lastRow('last', this.x) : this.x, norm); // one token: x is the last row
    this.at('ln_final.hook_normalized', h, { ...where, cols: h.shape[1]! });
    const logits = b.linear(h, lmHead, undefined, 'lm_head');
    this.at('logits', logits, { ...where, cols: logits.shape[1]! });
    return logits;
  }
}
