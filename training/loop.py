"""The AC-RF training loop (AC-RF technical report v1.1 §6 and Appendix B ``acrf_training_step``).

- Gradient accumulation (§6.1): G micro-batches per optimizer update, each loss divided by G, so the update uses
  ``(1/G) sum_g grad L^(g)`` (effective batch ``B_eff = B_phys x G``).
- Cosine learning rate 1e-4 -> 1e-6 over the T updates (§6.2, ``lr_schedule.cosine_lr``); AdamW.
- L2 gradient clipping at c = 1.0 (§6.3): ``g <- g * min(1, c / ||g||_2)`` over all LoRA parameters together.
- A non-finite loss or gradient stops the run: the parameters go back to the last good state (after the previous
  update) and the result says why. ``check_interrupt()`` runs before each micro-batch (it raises to abort);
  ``on_progress(update, total, loss, running_loss)`` after each update (running loss: mean of the last 10).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from .lr_schedule import LR_MIN, cosine_lr

GRAD_CLIP = 1.0
RUNNING_WINDOW = 10


@dataclass
class LoopResult:
    losses: list = field(default_factory=list)      # one per optimizer update (mean over its micro-batches)
    steps_done: int = 0
    stopped: str | None = None                       # reason when the run stopped early


def clip_gradients(params, max_norm=GRAD_CLIP):
    """§6.3 L2 clipping of the joint gradient; returns the norm before clipping."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g.float()) for g in grads]))
    factor = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
    for g in grads:
        g.mul_(factor.to(g.dtype))
    return float(norm)


def train_step(params, optimizer, micro_loss, step, grad_accumulation=1, max_norm=GRAD_CLIP, check_interrupt=None):
    """One optimizer update: ``grad_accumulation`` calls of ``micro_loss(step, g) -> scalar loss``, backward of each
    loss / G, clip, step. Returns ``(mean loss, grad norm)``; the loss is NaN/inf when the step must not be applied
    (then no update is made)."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for g in range(grad_accumulation):
        if check_interrupt is not None:
            check_interrupt()
        loss = micro_loss(step, g)
        value = float(loss.detach())
        if not math.isfinite(value):
            optimizer.zero_grad(set_to_none=True)
            return value, float("nan")
        (loss / grad_accumulation).backward()
        total += value
    norm = clip_gradients(params, max_norm)
    if not math.isfinite(norm):
        optimizer.zero_grad(set_to_none=True)
        return float("nan"), norm
    optimizer.step()
    return total / grad_accumulation, norm


def train_loop(network, micro_loss, steps, grad_accumulation=1, lr=1e-4, lr_min=LR_MIN, max_norm=GRAD_CLIP,
               on_progress=None, check_interrupt=None, weight_decay=0.01):
    """Run ``steps`` updates of ``network``'s parameters (see module docstring); returns a ``LoopResult``."""
    params = [p for p in network.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    lr_min = min(lr_min, lr)
    result = LoopResult()
    good = network.snapshot()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = cosine_lr(step, steps, lr, lr_min)
        loss, _ = train_step(params, optimizer, micro_loss, step, grad_accumulation, max_norm, check_interrupt)
        if not math.isfinite(loss):
            network.restore(good)
            result.stopped = (f"the training loss became {loss} at step {step + 1} of {steps}; stopped and kept the "
                              f"LoRA from step {step} (lower the learning rate)")
            break
        params_ok = all(torch.isfinite(p).all() for p in params)
        if not params_ok:
            network.restore(good)
            result.stopped = f"LoRA weights became non-finite at step {step + 1}; kept the LoRA from step {step}"
            break
        good = network.snapshot()
        result.losses.append(loss)
        result.steps_done = step + 1
        if on_progress is not None:
            window = result.losses[-RUNNING_WINDOW:]
            on_progress(step + 1, steps, loss, sum(window) / len(window))
    return result
