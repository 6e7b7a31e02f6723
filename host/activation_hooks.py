"""Torch forward hooks that run ``lora.batched.BatchedLora`` engines on a layer's output (the activation path of
Batch prompts' per-image LoRA, ``host/batched_lora.py``, and of scheduled LoRA strength, ``host/lora_schedule.py``).

A hook adds every engine's terms to the output of the module it is registered on (``BatchedLora.apply``); the
layer's geometry (stride, padding, dilation, groups of a Conv2d) is read once when the hook is made. Weights are only
read, never written."""
from __future__ import annotations


def layer_hook(module, name, engines, token_of=None):
    """A forward hook for ``module`` (key prefix ``name``) applying each of ``engines`` that is inside a model call;
    ``token_of(x)`` (optional) gives the input token of ``BatchedLora.apply`` for the layer's input ``x``."""
    geometry = {"stride": getattr(module, "stride", 1), "padding": getattr(module, "padding", 0),
                "dilation": getattr(module, "dilation", 1), "groups": getattr(module, "groups", 1)}
    engines = list(engines)

    def hook(mod, args, output):
        if not args:
            return output
        token = token_of(args[0]) if token_of is not None else None
        for engine in engines:
            if engine._call is not None:
                output = engine.apply(name, args[0], output, input_token=token, **geometry)
        return output
    return hook
