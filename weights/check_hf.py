"""
Checks that the shipped artifact is what Hugging Face writes and reads: GPT2LMHeadModel.from_pretrained
loads it, and its logits equal those of this folder's own GPT (model.py) loaded from the same file.
Needs `transformers` (not in Debian's PyTorch; run it where transformers is installed):

    python3 weights/check_hf.py [model_dir]

Also re-saves the Hugging Face model with save_pretrained and compares tensor names, shapes and values and
the config.json keys with the shipped ones. Prints one JSON summary.
"""

import json
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import load_gpt, load_safetensors  # noqa: E402


def main():
    model_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    import transformers
    from transformers import GPT2LMHeadModel

    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        hf = GPT2LMHeadModel.from_pretrained(model_dir, attn_implementation="eager").eval()
    except (TypeError, ValueError):  # transformers before 4.36 has only the eager attention
        hf = GPT2LMHeadModel.from_pretrained(model_dir).eval()
    n_positions = hf.config.n_positions
    g = torch.Generator().manual_seed(0)
    inputs = [torch.randint(hf.config.vocab_size, (1, n), generator=g) for n in (1, 7, n_positions)]
    inputs.append(torch.randint(hf.config.vocab_size, (3, 50), generator=g))
    report = {"transformers": transformers.__version__, "torch": torch.__version__}
    for dtype, name in ((torch.float64, "float64"), (torch.float32, "float32")):
        mine = load_gpt(model_dir, dtype)
        theirs = hf.to(dtype)
        worst_abs, worst_rel = 0.0, 0.0
        with torch.no_grad():
            for x in inputs:
                a = mine(x)[0]
                b = theirs(x).logits
                worst_abs = max(worst_abs, (a - b).abs().max().item())
                worst_rel = max(worst_rel, ((a - b).abs() / b.abs().clamp_min(1e-3)).max().item())
        report[f"max_abs_logit_diff_{name}"] = worst_abs
        report[f"max_rel_logit_diff_{name}"] = worst_rel

    # What save_pretrained itself writes, next to what we ship
    with tempfile.TemporaryDirectory() as tmp:
        hf.to(torch.float32).save_pretrained(tmp)
        ours = load_safetensors(os.path.join(model_dir, "model.safetensors"))
        theirs = load_safetensors(os.path.join(tmp, "model.safetensors"))
        report["tensor_names_equal"] = sorted(ours) == sorted(theirs)
        report["names_only_ours"] = sorted(set(ours) - set(theirs))
        report["names_only_hf"] = sorted(set(theirs) - set(ours))
        report["max_abs_tensor_diff"] = max(float(np.abs(ours[k].astype(np.float64) - theirs[k].astype(np.float64)).max())
                                            for k in set(ours) & set(theirs))
        with open(os.path.join(model_dir, "config.json")) as f:
            our_cfg = json.load(f)
        with open(os.path.join(tmp, "config.json")) as f:
            hf_cfg = json.load(f)
        report["config_keys_only_ours"] = sorted(set(our_cfg) - set(hf_cfg))
        report["config_keys_only_hf"] = sorted(set(hf_cfg) - set(our_cfg))
        report["config_values_differ"] = sorted(k for k in set(our_cfg) & set(hf_cfg) if our_cfg[k] != hf_cfg[k])
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
