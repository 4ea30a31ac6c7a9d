// Every kernel of src/kernels with its versions, in forward-pass order: what the tests and the bench iterate.
import { residualAddKernel } from './add.ts';
import { attentionScoresKernel, attentionValuesKernel } from './attention.ts';
import { attentionResultKernel, sumHeadsKernel } from './attention-result.ts';
import { chooseTokenKernel } from './choose.ts';
import { embedKernel } from './embedding.ts';
import { attentionDecodeKernel, lmHeadKernel, matmulFusedKernel, matvecFusedKernel } from './fused.ts';
import { geluKernel } from './gelu.ts';
import { interveneKernel } from './intervene.ts';
import { kvAppendKernel } from './kvcache.ts';
import { layerNormKernel } from './layernorm.ts';
import { matmulKernel } from './matmul.ts';
import { rmsNormKernel } from './rmsnorm.ts';
import { ropeKernel } from './rope.ts';
import { softmaxKernel } from './softmax.ts';
import { swigluKernel } from './swiglu.ts';
import { topKKernel } from './topk.ts';
import type { Kernel } from './versions.ts';

export const KERNELS: readonly Kernel[] = [
  embedKernel,
  layerNormKernel,
  rmsNormKernel,
  matmulKernel,
  ropeKernel,
  kvAppendKernel,
  attentionScoresKernel,
  softmaxKernel,
  attentionValuesKernel,
  attentionResultKernel,
  sumHeadsKernel,
  residualAddKernel,
  geluKernel,
  swigluKernel,
  matvecFusedKernel,
  matmulFusedKernel,
  attentionDecodeKernel,
  lmHeadKernel,
  topKKernel,
  chooseTokenKernel,
  interveneKernel,
];
