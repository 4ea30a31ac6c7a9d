"""
A GPT-2 in one file, nanoGPT style, for training wgpt's embedded default model and for computing the
golden outputs wgpt's tests compare against. Module names copy Hugging Face's GPT2LMHeadModel (wte, wpe,
h, ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc, mlp.c_proj, ln_f), so saving in its format is a
name table plus one transpose.

Dimension letters: B batch, T sequence length, C n_embd, NH n_head, HS head size (C / NH), V vocab_size.

Also here, because the Debian PyTorch this runs on has no `safetensors` package: a reader and a writer
for the safetensors format (an 8-byte header length, a JSON header, then the raw little-endian tensors).
"""

import json
import math
import struct
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
from torch.nn import functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 50257  # GPT-2's BPE vocabulary: 50,000 merges + 256 bytes + <|endoftext|>
    n_positions: int = 256
    n_embd: int = 128
    n_layer: int = 4
    n_head: int = 4
    dropout: float = 0.0  # used while training only; inference never drops
    layer_norm_epsilon: float = 1e-5


def gelu_new(x):
    # GPT-2's GELU, the tanh approximation (Hugging Face calls it "gelu_new")
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


class CausalSelfAttention(nn.Module):
    def __init__(self, config):
        super().__init__()
        assert config.n_embd % config.n_head == 0
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v for all heads at once
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.attn_dropout = nn.Dropout(config.dropout)
        self.resid_dropout = nn.Dropout(config.dropout)
        # True above the diagonal: position t may not look at positions after t
        future = torch.triu(torch.ones(config.n_positions, config.n_positions, dtype=torch.bool), diagonal=1)
        self.register_buffer("future", future, persistent=False)

    def forward(self, x):
        B, T, C = x.size()
        q, k, v = self.c_attn(x).split(C, dim=2)
        hs = C // self.n_head
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, NH, T, HS)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, NH, T, HS)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, NH, T, HS)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))  # (B, NH, T, T)
        att = att.masked_fill(self.future[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        att = self.attn_dropout(att)
        y = att @ v  # (B, NH, T, HS)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # heads side by side again: (B, T, C)
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.c_proj(gelu_new(self.c_fc(x))))


class Block(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon)
        self.mlp = MLP(config)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class GPT(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(config.vocab_size, config.n_embd),
            wpe=nn.Embedding(config.n_positions, config.n_embd),
            drop=nn.Dropout(config.dropout),
            h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
            ln_f=nn.LayerNorm(config.n_embd, eps=config.layer_norm_epsilon),
        ))
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # tied: one [V, C] matrix embeds and unembeds
        # GPT-2's initialisation: N(0, 0.02), zero biases; the projections that write into the residual
        # stream are scaled down by sqrt(2 * n_layer) so the stream's variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
            elif name.endswith(".weight") and p.dim() == 2:
                nn.init.normal_(p, mean=0.0, std=0.02)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            # LayerNorm weights keep their initial 1

    def num_params(self):
        return sum(p.numel() for p in self.parameters())  # wte counted once although lm_head shares it

    def forward(self, idx, targets=None):
        B, T = idx.size()
        assert T <= self.config.n_positions, f"sequence of {T} tokens is longer than n_positions {self.config.n_positions}"
        pos = torch.arange(T, device=idx.device)
        x = self.transformer.drop(self.transformer.wte(idx) + self.transformer.wpe(pos))  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)
        logits = self.lm_head(x)  # (B, T, V)
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss


# --- Hugging Face GPT2LMHeadModel format ---------------------------------------------------------------

# GPT-2 stores these as Conv1D weights, [in_features, out_features]: the transpose of nn.Linear's layout
CONV1D_SUFFIXES = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def to_hf_tensors(model, dtype=np.float32):
    """The model's parameters under Hugging Face's names, as numpy arrays. lm_head.weight is left out:
    it is wte, and Hugging Face ties it again when it loads the file."""
    out = {}
    for name, p in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        a = p.detach().cpu().to(torch.float64).numpy()
        if name.endswith(CONV1D_SUFFIXES):
            a = a.T
        out[name] = np.ascontiguousarray(a.astype(dtype))
    return out


def hf_config(config):
    """config.json as GPT2LMHeadModel.save_pretrained writes it (the fields GPT2Config has). The dropout
    rates record training; inference ignores them."""
    pdrop = config.dropout
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "attn_pdrop": pdrop,
        "bos_token_id": 50256,
        "embd_pdrop": pdrop,
        "eos_token_id": 50256,
        "initializer_range": 0.02,
        "layer_norm_epsilon": config.layer_norm_epsilon,
        "model_type": "gpt2",
        "n_ctx": config.n_positions,
        "n_embd": config.n_embd,
        "n_head": config.n_head,
        "n_inner": None,
        "n_layer": config.n_layer,
        "n_positions": config.n_positions,
        "reorder_and_upcast_attn": False,
        "resid_pdrop": pdrop,
        "scale_attn_by_inverse_layer_idx": False,
        "scale_attn_weights": True,
        "summary_activation": None,
        "summary_first_dropout": 0.1,
        "summary_proj_to_labels": True,
        "summary_type": "cls_index",
        "summary_use_proj": True,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "use_cache": True,
        "vocab_size": config.vocab_size,
    }


GENERATION_CONFIG = {"_from_model_config": True, "bos_token_id": 50256, "eos_token_id": 50256}


def load_gpt(model_dir, dtype=torch.float64):
    """The shipped model (config.json + model.safetensors in model_dir) as a GPT in `dtype`, eval mode."""
    with open(f"{model_dir}/config.json") as f:
        hf = json.load(f)
    config = GPTConfig(vocab_size=hf["vocab_size"], n_positions=hf["n_positions"], n_embd=hf["n_embd"],
                       n_layer=hf["n_layer"], n_head=hf["n_head"], dropout=0.0,
                       layer_norm_epsilon=hf["layer_norm_epsilon"])
    model = GPT(config)
    tensors = load_safetensors(f"{model_dir}/model.safetensors")
    state = {}
    for name, a in tensors.items():
        if name.endswith(CONV1D_SUFFIXES):
            a = a.T
        state[name] = torch.from_numpy(np.ascontiguousarray(a.astype(np.float64)))
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state, strict=True)
    return model.to(dtype).eval()


# --- safetensors ---------------------------------------------------------------------------------------

SAFETENSORS_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
                      "I32": np.int32, "U16": np.uint16, "U8": np.uint8}


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: numpy array} as a .safetensors file: u64 header size, JSON header, tensor bytes.
    Tensors are laid out in name order, little-endian, each at the offsets the header gives."""
    names = {np.dtype(v): k for k, v in SAFETENSORS_DTYPES.items()}
    header, offset, blobs = {}, 0, []
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name])
        blob = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad so the tensor data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def load_safetensors(path):
    """Reads a .safetensors file into {name: numpy array} (the metadata entry is dropped)."""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = np.dtype(SAFETENSORS_DTYPES[info["dtype"]]).newbyteorder("<")
        out[name] = np.frombuffer(body[start:end], dtype=dtype).reshape(info["shape"]).copy()
    return out
