"""
Trains wgpt's embedded default model: a small GPT-2 on Tiny Shakespeare, tokenized with the GPT-2 BPE.

    npx tsx weights/prepare.ts          # token ids -> weights/data/{train,val}.bin
    /usr/bin/python3 weights/train.py   # -> weights/{config.json, generation_config.json, model.safetensors, train_log.json}

Any hyper-parameter can be overridden as key=value, e.g. `train.py max_iters=20 out_dir=/tmp/x`;
`bench_iters=30` only times 30 steps and writes nothing. It runs on CUDA when there is a GPU and on the CPU
otherwise (2 threads). TF32 stays off, so a GPU run computes what an f32 CPU run computes, up to rounding
order and dropout's random masks (the initial weights and the batches come from the CPU generator and are
identical on both).
"""

import ast
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import GENERATION_CONFIG, GPT, GPTConfig, hf_config, save_safetensors, to_hf_tensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# Every hyper-parameter, in one place (MODEL_CARD.md lists the values the shipped model was trained with).
HYPERPARAMETERS = dict(
    # model
    n_embd=128,
    n_layer=4,
    n_head=4,
    n_positions=256,
    dropout=0.1,
    # data and schedule
    batch_size=8,  # sequences per step, each n_positions tokens long
    max_iters=1500,
    warmup_iters=100,
    learning_rate=3e-3,  # peak, after a linear warm-up
    min_lr=3e-4,  # cosine decay ends here at max_iters
    weight_decay=0.1,  # on matrices and embeddings only, not on biases and LayerNorm parameters
    beta1=0.9,
    beta2=0.95,
    grad_clip=1.0,
    eval_interval=200,  # steps between validation-loss measurements
    seed=1337,
    # where things are
    data_dir=os.path.join(HERE, "data"),
    out_dir=HERE,
    save_dtype="float32",  # model.safetensors: float32 or float16
    threads=2,  # CPU threads (the development machine has 2 cores)
    bench_iters=0,  # > 0: time this many steps, print tokens/s, write nothing
)


def parse_overrides(hp, args):
    for arg in args:
        key, _, value = arg.partition("=")
        if key not in hp:
            raise SystemExit(f"unknown hyper-parameter {key!r}; known: {', '.join(hp)}")
        try:
            hp[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            hp[key] = value  # a plain string such as a path
    return hp


def lr_at(step, hp):
    if step < hp["warmup_iters"]:
        return hp["learning_rate"] * (step + 1) / hp["warmup_iters"]
    progress = min(1.0, (step - hp["warmup_iters"]) / max(1, hp["max_iters"] - hp["warmup_iters"]))
    return hp["min_lr"] + 0.5 * (1.0 + math.cos(math.pi * progress)) * (hp["learning_rate"] - hp["min_lr"])


@torch.no_grad()
def evaluate(model, ids, starts, T, device, batch=16):
    """Mean next-token loss (nats) over windows ids[s : s+T+1]; a window may be shorter at the end of ids."""
    model.eval()
    total, count = 0.0, 0
    windows = [ids[s:s + T + 1] for s in starts]
    windows = [w for w in windows if len(w) >= 2]
    for length in sorted({len(w) for w in windows}):  # windows of one length batch together
        same = [w for w in windows if len(w) == length]
        for i in range(0, len(same), batch):
            chunk = torch.stack(same[i:i + batch]).to(device)
            logits, _ = model(chunk[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), chunk[:, 1:].reshape(-1), reduction="sum")
            total += loss.item()
            count += chunk[:, 1:].numel()
    model.train()
    return total / count


def main():
    hp = parse_overrides(dict(HYPERPARAMETERS), sys.argv[1:])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.set_num_threads(hp["threads"])
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(hp["seed"])

    train_ids = torch.from_numpy(np.fromfile(os.path.join(hp["data_dir"], "train.bin"), dtype="<u2").astype(np.int64))
    val_ids = torch.from_numpy(np.fromfile(os.path.join(hp["data_dir"], "val.bin"), dtype="<u2").astype(np.int64))
    T, B = hp["n_positions"], hp["batch_size"]
    # validation: the whole split in consecutive windows; train loss: as many tokens, in evenly spaced windows
    val_starts = list(range(0, len(val_ids) - 1, T))
    train_starts = np.linspace(0, len(train_ids) - T - 1, len(val_starts)).astype(int).tolist()

    config = GPTConfig(n_positions=T, n_embd=hp["n_embd"], n_layer=hp["n_layer"], n_head=hp["n_head"], dropout=hp["dropout"])
    model = GPT(config)  # initialised on the CPU generator, then moved: the same weights on every device
    model.to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": hp["weight_decay"]},
                                   {"params": no_decay, "weight_decay": 0.0}],
                                  lr=hp["learning_rate"], betas=(hp["beta1"], hp["beta2"]))
    batch_rng = torch.Generator().manual_seed(hp["seed"])
    print(f"device {device}, {model.num_params():,} parameters, {len(train_ids):,} train / {len(val_ids):,} val tokens", flush=True)

    iters = hp["bench_iters"] or hp["max_iters"]
    log = {"hyperparameters": hp, "device": device, "torch": torch.__version__, "params": model.num_params(),
           "train_tokens": len(train_ids), "val_tokens": len(val_ids), "steps": [], "evals": []}
    train_seconds = 0.0  # optimiser steps only
    eval_seconds = 0.0
    bench_start = None
    for step in range(iters + 1):
        last = step == iters
        if not hp["bench_iters"] and (step % hp["eval_interval"] == 0 or last):
            t0 = time.time()
            entry = {"step": step, "val_loss": evaluate(model, val_ids, val_starts, T, device)}
            if last:
                entry["train_loss"] = evaluate(model, train_ids, train_starts, T, device)
            if device == "cuda":
                torch.cuda.synchronize()
            eval_seconds += time.time() - t0
            log["evals"].append(entry)
            print(f"step {step}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k != "step"), flush=True)
        if last:
            break

        t0 = time.time()
        if step == 1:
            bench_start = t0  # the first step pays for allocations; time the rest
        ix = torch.randint(len(train_ids) - T - 1, (B,), generator=batch_rng)
        x = torch.stack([train_ids[i:i + T] for i in ix]).to(device)  # (B, T)
        y = torch.stack([train_ids[i + 1:i + T + 1] for i in ix]).to(device)  # (B, T), x shifted by one
        lr = lr_at(step, hp)
        for group in optimizer.param_groups:
            group["lr"] = lr
        _, loss = model(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), hp["grad_clip"])
        optimizer.step()
        loss_value = loss.item()  # also waits for the GPU, so the timing below is real
        train_seconds += time.time() - t0
        log["steps"].append([step, round(loss_value, 5), lr])
        if step % 50 == 0:
            print(f"step {step}: loss {loss_value:.4f}, lr {lr:.2e}, {train_seconds:.1f}s", flush=True)

    if hp["bench_iters"]:
        seconds = time.time() - bench_start
        tok_s = (iters - 1) * B * T / seconds
        t0 = time.time()
        evaluate(model, val_ids, val_starts, T, device)
        val_eval_s = time.time() - t0
        print(json.dumps({"device": device, "threads": hp["threads"], "n_embd": hp["n_embd"], "n_layer": hp["n_layer"],
                          "batch_size": B, "train_tokens_per_s": round(tok_s, 1), "val_eval_s": round(val_eval_s, 1)}))
        return

    log["train_seconds"] = round(train_seconds, 2)
    log["eval_seconds"] = round(eval_seconds, 2)
    log["device_name"] = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    os.makedirs(hp["out_dir"], exist_ok=True)
    out = hp["out_dir"]
    dtype = {"float32": np.float32, "float16": np.float16}[hp["save_dtype"]]
    save_safetensors(os.path.join(out, "model.safetensors"), to_hf_tensors(model.cpu(), dtype), metadata={"format": "pt"})
    cfg = hf_config(config)
    cfg["torch_dtype"] = hp["save_dtype"]
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
        f.write("\n")
    with open(os.path.join(out, "train_log.json"), "w") as f:
        json.dump(log, f, separators=(",", ":"))
    print(f"trained in {train_seconds:.1f}s (+{eval_seconds:.1f}s evaluating) on {log['device_name']}; wrote {out}")


if __name__ == "__main__":
    main()
