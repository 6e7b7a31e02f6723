"""Cosine learning-rate annealing (AC-RF technical report v1.1 §6.2; Loshchilov & Hutter 2017, SGDR):

    eta_t = eta_min + 1/2 (eta_max - eta_min) (1 + cos(t*pi/T)),  eta_max = 1e-4, eta_min = 1e-6, T = total steps.
"""
from __future__ import annotations

import math

LR_MAX = 1e-4
LR_MIN = 1e-6


def cosine_lr(step, total_steps, lr_max=LR_MAX, lr_min=LR_MIN):
    """Learning rate at optimizer step ``step`` of ``total_steps`` (step 0 -> lr_max, step T -> lr_min)."""
    if total_steps <= 0:
        return lr_max
    t = min(max(step, 0), total_steps)
    return lr_min + 0.5 * (lr_max - lr_min) * (1.0 + math.cos(math.pi * t / total_steps))
