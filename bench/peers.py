"""PyTorch eager decode of a GPT-2 of a given shape, for `wgpt bench --only peers` (bench/peers.ts).

A GPT-2 in the shape of nanoGPT's model.py with a KV cache (keys and values concatenated step by step, as Hugging
Face's GPT2Model does), random weights at GPT-2's initialisation scale: timing depends on the shape only. Greedy
decoding of `--new` tokens after a prompt of `--prompt` tokens, `--runs` times; prints one JSON object.
With `--onnx PATH` it also exports one step (ids, positions, past keys and values -> logits, present keys and
values) to ONNX, for onnxruntime-node to run the same decode.
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F
from torch import nn


class Block(nn.Module):
    def __init__(self, C, NH):
        super().__init__()
        self.NH = NH
        self.ln_1 = nn.LayerNorm(C)
        self.c_attn = nn.Linear(C, 3 * C)
        self.attn_proj = nn.Linear(C, C)
        self.ln_2 = nn.LayerNorm(C)
        self.c_fc = nn.Linear(C, 4 * C)
        self.mlp_proj = nn.Linear(4 * C, C)

    def forward(self, x, pos, past_k, past_v):
        B, T, C = x.shape
        HS = C // self.NH
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q = q.view(B, T, self.NH, HS).transpose(1, 2)  # (B, NH, T, HS)
        k = torch.cat([past_k, k.view(B, T, self.NH, HS).transpose(1, 2)], dim=2)  # (B, NH, S, HS)
        v = torch.cat([past_v, v.view(B, T, self.NH, HS).transpose(1, 2)], dim=2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(HS))  # (B, NH, T, S)
        S = k.shape[2]
        mask = torch.arange(S).unsqueeze(0) <= pos.view(T, 1)  # (T, S): key position <= query position
        att = F.softmax(att.masked_fill(~mask, float('-inf')), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + self.attn_proj(y)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate='tanh'))
        return x, k, v


class GPT(nn.Module):
    def __init__(self, L, C, NH, V, P):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Embedding(P, C)
        self.h = nn.ModuleList([Block(C, NH) for _ in range(L)])
        self.ln_f = nn.LayerNorm(C)
        for p in self.parameters():
            nn.init.normal_(p, std=0.02)

    def forward(self, ids, pos, past_k, past_v):
        """ids, pos (1, T); past_k, past_v (L, 1, NH, S, HS) -> logits of the last position (1, V), presents."""
        x = self.wte(ids) + self.wpe(pos)
        ks, vs = [], []
        for l, block in enumerate(self.h):
            x, k, v = block(x, pos, past_k[l], past_v[l])
            ks.append(k)
            vs.append(v)
        logits = self.ln_f(x[:, -1, :]) @ self.wte.weight.t()
        return logits, torch.stack(ks), torch.stack(vs)


def blas_library():
    """The BLAS this process has loaded: Debian's torch calls whichever libblas.so.3 the system points at, and the
    reference BLAS (libblas3) is ten times slower than OpenBLAS on a prefill (apt-get install libopenblas0-pthread)."""
    try:
        with open('/proc/self/maps') as f:
            paths = {line.split()[-1] for line in f if 'blas' in line.split()[-1]}
    except OSError:
        return 'BLAS unknown'
    if any('openblas' in p for p in paths):
        return 'OpenBLAS'
    if any('mkl' in p for p in paths):
        return 'MKL'
    return 'reference BLAS: apt-get install libopenblas0-pthread' if paths else 'BLAS unknown'


def main():
    a = argparse.ArgumentParser()
    for name in ['layers', 'embd', 'heads', 'vocab', 'positions']:
        a.add_argument(f'--{name}', type=int, required=True)
    a.add_argument('--prompt', type=int, default=16)
    a.add_argument('--new', type=int, default=32)
    a.add_argument('--runs', type=int, default=3)
    a.add_argument('--threads', type=int, default=2)
    a.add_argument('--onnx')
    o = a.parse_args()
    torch.manual_seed(0)
    # Debian's torch runs its matmuls in the system's BLAS. With OpenBLAS, torch's intra-op pool and OpenBLAS's own
    # threads each take every core and oversubscribe them (GPT-2 124M on 2 cores: 7.3 tok/s against 22.2 with one
    # of them): the matmuls get the threads through OpenBLAS (OPENBLAS_NUM_THREADS, set by bench/peers.ts before
    # the library loads), torch's pool one.
    torch.set_num_threads(1 if blas_library() == 'OpenBLAS' else o.threads)
    model = GPT(o.layers, o.embd, o.heads, o.vocab, o.positions).eval()
    HS = o.embd // o.heads
    empty = torch.zeros(o.layers, 1, o.heads, 0, HS)
    prompt = torch.randint(0, o.vocab, (1, o.prompt))
    prefill_ms, decode = [], []
    with torch.no_grad():
        for _ in range(o.runs + 1):  # the first run warms up
            t0 = time.perf_counter()
            logits, k, v = model(prompt, torch.arange(o.prompt).unsqueeze(0), empty, empty)
            t1 = time.perf_counter()
            for i in range(o.new):
                nxt = logits.argmax(-1, keepdim=True)
                logits, k, v = model(nxt, torch.tensor([[o.prompt + i]]), k, v)
            t2 = time.perf_counter()
            prefill_ms.append((t1 - t0) * 1000)
            decode.append(o.new / (t2 - t1))
        if o.onnx:
            pos = torch.arange(o.prompt).unsqueeze(0)
            torch.onnx.export(
                model, (prompt, pos, empty, empty), o.onnx, opset_version=14,
                input_names=['ids', 'pos', 'past_k', 'past_v'], output_names=['logits', 'present_k', 'present_v'],
                dynamic_axes={'ids': {1: 'T'}, 'pos': {1: 'T'}, 'past_k': {3: 'S'}, 'past_v': {3: 'S'}, 'present_k': {3: 'S1'}, 'present_v': {3: 'S1'}},
            )
    prefill_ms.pop(0)
    decode.pop(0)
    print(json.dumps({
        'runtime': f'PyTorch {torch.__version__} eager ({blas_library()})', 'threads': o.threads,
        'prefill_ms': sorted(prefill_ms)[len(prefill_ms) // 2], 'decode_tok_s': sorted(decode)[len(decode) // 2],
        'onnx': o.onnx,
    }))


if __name__ == '__main__':
    main()
