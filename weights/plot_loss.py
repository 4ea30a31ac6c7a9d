"""
Draws weights/loss.svg from weights/train_log.json: the training loss of every step (with dropout, faint),
its 50-step moving average, and the validation loss at each evaluation. Plain SVG, no plotting library.

    /usr/bin/python3 weights/plot_loss.py
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
W, H = 640, 400  # canvas, px
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 30, 50  # margins around the plot area, px
Y_MIN, Y_MAX = 3.0, 11.0  # loss axis, nats/token
SMOOTH = 50  # steps in the moving average


def main():
    with open(os.path.join(HERE, "train_log.json")) as f:
        log = json.load(f)
    steps = [s for s, _, _ in log["steps"]]
    losses = [loss for _, loss, _ in log["steps"]]
    evals = log["evals"]
    x_max = evals[-1]["step"]

    def px(step, loss):
        x = LEFT + (W - LEFT - RIGHT) * step / x_max
        y = TOP + (H - TOP - BOTTOM) * (Y_MAX - min(max(loss, Y_MIN), Y_MAX)) / (Y_MAX - Y_MIN)
        return f"{x:.1f},{y:.1f}"

    smooth = [sum(losses[max(0, i - SMOOTH + 1):i + 1]) / len(losses[max(0, i - SMOOTH + 1):i + 1]) for i in range(len(losses))]
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>']
    for loss in range(int(Y_MIN), int(Y_MAX) + 1):  # horizontal grid and loss labels
        _, y = px(0, loss).split(",")
        svg.append(f'<line x1="{LEFT}" y1="{y}" x2="{W - RIGHT}" y2="{y}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 8}" y="{float(y) + 4:.1f}" text-anchor="end">{loss}</text>')
    for e in evals:  # step labels at the evaluation points
        x, _ = px(e["step"], Y_MIN).split(",")
        svg.append(f'<text x="{x}" y="{H - BOTTOM + 16}" text-anchor="middle">{e["step"]}</text>')
    svg.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 12}" text-anchor="middle">step ({log["hyperparameters"]["batch_size"]} x {log["hyperparameters"]["n_positions"]} tokens each)</text>')
    svg.append(f'<text x="16" y="{(TOP + H - BOTTOM) / 2}" text-anchor="middle" transform="rotate(-90 16 {(TOP + H - BOTTOM) / 2})">loss (nats/token)</text>')
    svg.append(f'<polyline fill="none" stroke="#9ecae1" stroke-width="0.7" points="{" ".join(px(s, v) for s, v in zip(steps, losses))}"/>')
    svg.append(f'<polyline fill="none" stroke="#08519c" stroke-width="2" points="{" ".join(px(s, v) for s, v in zip(steps, smooth))}"/>')
    svg.append(f'<polyline fill="none" stroke="#d94801" stroke-width="2" points="{" ".join(px(e["step"], e["val_loss"]) for e in evals)}"/>')
    for e in evals:
        x, y = px(e["step"], e["val_loss"]).split(",")
        svg.append(f'<circle cx="{x}" cy="{y}" r="3" fill="#d94801"/>')
    final = evals[-1]
    svg.append(f'<text x="{W - RIGHT - 4}" y="{TOP - 10}" text-anchor="end">train (dropout on): light blue per step, dark blue {SMOOTH}-step mean;'
               f' validation: orange, final {final["val_loss"]:.3f}</text>')
    svg.append("</svg>")
    with open(os.path.join(HERE, "loss.svg"), "w") as f:
        f.write("\n".join(svg) + "\n")


if __name__ == "__main__":
    main()
