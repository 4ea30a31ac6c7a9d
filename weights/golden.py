"""
Golden outputs for wgpt's end-to-end test: the shipped model run in PyTorch, in float64, from the shipped
weights/model.safetensors. PyTorch is the independent second implementation wgpt is checked against.

    npx tsx weights/prepare.ts         # the prompts' token ids -> weights/data/prompts.json
    /usr/bin/python3 weights/golden.py # -> test/fixtures/golden.json, test/fixtures/golden-logits.safetensors
    /usr/bin/python3 weights/golden.py --samples   # only prints MODEL_CARD.md's sample continuations

For every prompt it records the last-position logits (float64 maths, stored as F32) and a greedy
continuation of 32 tokens, each step's argmax taken over a full forward pass of prompt + tokens so far, with
the gap between the two largest logits, so a near-tie (where f32 rounding could flip the choice) is visible.
"""

import hashlib
import json
import os
import re
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from model import load_gpt, save_safetensors  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "test", "fixtures")
VOCAB = os.path.join(HERE, "..", "..", "shared", "data", "gpt2-tokenizer", "vocab.json")


def byte_decoder():
    """GPT-2's vocab.json spells every byte as a printable character; this undoes that (encoder.py's
    bytes_to_unicode, inverted)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, n = {}, 0
    for b in range(256):
        if b in printable:
            chars[chr(b)] = b
        else:
            chars[chr(256 + n)] = b
            n += 1
    return chars


def make_decoder(vocab_path=VOCAB):
    with open(vocab_path, encoding="utf-8") as f:
        vocab = json.load(f)
    pieces = {i: s for s, i in vocab.items()}
    to_byte = byte_decoder()
    return lambda ids: bytes(to_byte[c] for i in ids for c in pieces[i]).decode("utf-8", errors="replace")


@torch.no_grad()
def greedy(model, ids, steps):
    """`steps` argmax tokens after `ids`, and at each step the gap between the top two logits."""
    ids = list(ids)
    tokens, margins = [], []
    for _ in range(steps):
        logits = model(torch.tensor([ids]))[0][0, -1]  # (V,)
        top2 = torch.topk(logits, 2)
        tokens.append(int(top2.indices[0]))
        margins.append(float(top2.values[0] - top2.values[1]))
        ids.append(tokens[-1])
    return tokens, margins


@torch.no_grad()
def sample(model, ids, steps, temperature, top_k, generator):
    ids = list(ids)
    out = []
    for _ in range(steps):
        logits = model(torch.tensor([ids[-model.config.n_positions:]]))[0][0, -1] / temperature
        kth = torch.topk(logits, top_k).values[-1]
        probs = torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)
        out.append(int(torch.multinomial(probs, 1, generator=generator)))
        ids.append(out[-1])
    return out


def main():
    torch.set_num_threads(2)
    model = load_gpt(HERE, torch.float64)
    decode = make_decoder()
    with open(os.path.join(HERE, "data", "prompts.json")) as f:
        prompts = json.load(f)

    if "--samples" in sys.argv:
        g = torch.Generator().manual_seed(1337)
        for p in prompts["prompts"]:
            if p["name"] in ("romeo", "citizen-newline", "juliet-speech"):
                out = sample(model, p["ids"], 100, temperature=0.8, top_k=40, generator=g)
                print(f"--- {p['name']} (temperature 0.8, top-k 40, seed 1337)\n{p['text']}{decode(out)}\n")
        return

    with open(os.path.join(HERE, "model.safetensors"), "rb") as f:
        weights_sha256 = hashlib.sha256(f.read()).hexdigest()
    steps = prompts["greedy_steps"]
    tensors, records = {}, []
    for p in prompts["prompts"]:
        with torch.no_grad():
            last = model(torch.tensor([p["ids"]]))[0][0, -1]  # (V,) float64
        tokens, margins = greedy(model, p["ids"], steps)
        tensors[p["name"]] = last.numpy().astype(np.float32)
        records.append({
            "name": p["name"],
            "text": p["text"],
            "ids": p["ids"],
            "last_logits_argmax": int(last.argmax()),
            "greedy_ids": tokens,
            "greedy_text": decode(tokens),
            "greedy_top2_margins": [round(m, 6) for m in margins],
            "min_top2_margin": round(min(margins), 6),
        })
        print(f"{p['name']:26} {len(p['ids']):4} tokens, min top-2 margin {min(margins):.4f}: {decode(tokens)!r}")

    os.makedirs(FIXTURES, exist_ok=True)
    save_safetensors(os.path.join(FIXTURES, "golden-logits.safetensors"), tensors,
                     metadata={"format": "pt", "weights_sha256": weights_sha256})
    golden = {
        "about": "wgpt's default model (weights/) run in PyTorch float64 by weights/golden.py; see README.md here",
        "weights": "weights/model.safetensors",
        "weights_sha256": weights_sha256,
        "tokenizer": "gpt-tokenizer/encoding/r50k_base (GPT-2 BPE)",
        "compute_dtype": "float64",
        "logits_file": "golden-logits.safetensors",
        "n_positions": prompts["n_positions"],
        "greedy_steps": steps,
        "prompts": records,
    }
    text = json.dumps(golden, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\s*([-0-9.e,\s]+?)\s*\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)  # number lists on one line
    with open(os.path.join(FIXTURES, "golden.json"), "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
