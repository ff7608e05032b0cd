"""A small training loop in numpy, instrumented with rigscope: phase tags, loss and grad_norm metrics, epoch spans.

A two-layer network learns a noisy nonlinear regression with minibatch SGD.  It
tags its phases (`data_prep`, `train`, `eval`, `checkpoint`), logs `loss` and
`grad_norm` every step and `eval_loss` every epoch (`rigscope.metric`), wraps each
epoch in a span, and notes when the learning rate changes.  The learning rate
jumps at a few planted steps (a warm restart), so `grad_norm` spikes there: a
trace to lay over the RLE sparkline, or to feed `rigscope correlate`.

    rigscope record --duration 2m &               # or the dashboard: `rigscope`
    python docs/examples/train_loop.py --epochs 20
    rigscope correlate latest grad_norm

Deterministic for a given `--seed`; numpy is the only requirement beyond rigscope.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

try:
    import rigscope
except ImportError:  # run from a checkout without installing: the repository root is two levels up
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import rigscope


def make_data(rng: np.random.Generator, rows: int, features: int) -> tuple[np.ndarray, ...]:
    """Inputs, targets (a noisy nonlinear function of them), split 90/10 and standardized."""
    x = rng.normal(size=(rows, features)).astype(np.float32)
    w = rng.normal(size=(features, 1)).astype(np.float32) / np.sqrt(features)
    y = np.sin(x @ w * 2.0) + 0.3 * (x[:, :1] ** 2) + 0.05 * rng.normal(size=(rows, 1)).astype(np.float32)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    x = (x - mean) / std
    split = rows * 9 // 10
    return x[:split], y[:split], x[split:], y[split:]


class Net:
    def __init__(self, rng: np.random.Generator, features: int, hidden: int) -> None:
        self.w1 = (rng.normal(size=(features, hidden)) * np.sqrt(2 / features)).astype(np.float32)
        self.b1 = np.zeros(hidden, np.float32)
        self.w2 = (rng.normal(size=(hidden, 1)) * np.sqrt(1 / hidden)).astype(np.float32)
        self.b2 = np.zeros(1, np.float32)

    def loss_and_grads(self, x: np.ndarray, y: np.ndarray) -> tuple[float, dict[str, np.ndarray]]:
        h = x @ self.w1 + self.b1
        a = np.maximum(h, 0)
        out = a @ self.w2 + self.b2
        diff = out - y
        loss = float(np.mean(diff**2))
        d_out = 2 * diff / len(x)
        d_a = d_out @ self.w2.T
        d_h = d_a * (h > 0)
        grads = {"w2": a.T @ d_out, "b2": d_out.sum(0), "w1": x.T @ d_h, "b1": d_h.sum(0)}
        return loss, grads

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        return float(np.mean((np.maximum(x @ self.w1 + self.b1, 0) @ self.w2 + self.b2 - y) ** 2))

    def step(self, grads: dict[str, np.ndarray], lr: float, clip: float) -> float:
        norm = float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
        scale = lr * min(1.0, clip / norm) if norm > 0 else lr
        for name, grad in grads.items():
            setattr(self, name, getattr(self, name) - scale * grad)
        return norm


def learning_rate(step: int, base: float, restarts: set[int]) -> float:
    """Cosine decay with warm restarts at the planted steps (grad_norm spikes right after them)."""
    last = max([0, *(r for r in restarts if r <= step)])
    progress = min(1.0, (step - last) / 400)
    spike = 3.0 if last and step - last < 5 else 1.0
    return float(base * (0.1 + 0.45 * (1 + np.cos(progress * np.pi))) * spike)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--rows", type=int, default=40_000, help="training rows (default 40,000)")
    parser.add_argument("--features", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=512, help="hidden units: more is slower (default 512)")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lr", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep per step (slows a fast machine)")
    options = parser.parse_args()
    rng = np.random.default_rng(options.seed)

    rigscope.note(f"train_loop: {options.epochs} epochs, hidden {options.hidden}, batch {options.batch}, seed {options.seed}")
    rigscope.tag("data_prep")
    x, y, x_eval, y_eval = make_data(rng, options.rows * 10 // 9, options.features)
    net = Net(rng, options.features, options.hidden)
    steps_per_epoch = len(x) // options.batch
    total = steps_per_epoch * options.epochs
    restarts = {int(total * f) for f in (0.3, 0.6, 0.85)} if total > 20 else set()
    checkpoints = Path(tempfile.mkdtemp(prefix="train_loop-"))

    step = 0
    for epoch in range(options.epochs):
        with rigscope.span("epoch", epoch=epoch, steps=steps_per_epoch, batch=options.batch):
            rigscope.tag("train")
            order = rng.permutation(len(x))
            losses = []
            for first in range(0, steps_per_epoch * options.batch, options.batch):
                rows = order[first:first + options.batch]
                loss, grads = net.loss_and_grads(x[rows], y[rows])
                lr = learning_rate(step, options.lr, restarts)
                if step in restarts:
                    rigscope.note(f"warm restart at step {step}: lr {lr:.3g}")
                norm = net.step(grads, lr, clip=5.0)
                rigscope.metric("loss", loss, step=step)
                rigscope.metric("grad_norm", norm, step=step)
                rigscope.metric("lr", lr, step=step)
                losses.append(loss)
                step += 1
                if options.sleep:
                    time.sleep(options.sleep)
            rigscope.tag("eval")
            eval_loss = net.loss(x_eval, y_eval)
            rigscope.metric("eval_loss", eval_loss, step=step)
            rigscope.tag("checkpoint")
            np.savez(checkpoints / f"epoch-{epoch:03d}.npz", w1=net.w1, b1=net.b1, w2=net.w2, b2=net.b2)
        print(f"epoch {epoch + 1:3d}/{options.epochs}  train loss {np.mean(losses):.4f}  eval loss {eval_loss:.4f}",
              flush=True)
    rigscope.tag("auto")
    rigscope.note(f"train_loop done: eval loss {eval_loss:.4f}; checkpoints in {checkpoints}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
