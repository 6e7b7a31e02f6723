"""Step iteration with optional progress bar, the k-diffusion ``trange(n, disable=disable)`` idiom without a hard
tqdm dependency: ``disable`` truthy → a plain ``range``; otherwise ``tqdm.auto.trange`` if tqdm is installed.

Interrupts: ComfyUI stops a run by raising from the model call or the step callback
(``comfy.model_management.throw_exception_if_processing_interrupted``), so the samplers need no interrupt check of
their own; the exception simply propagates out of the loop.
"""


def step_range(n, disable=None):
    """``range(n)``, wrapped in a tqdm progress bar when available and not disabled."""
    if disable:
        return range(n)
    try:
        from tqdm.auto import trange
    except ImportError:
        return range(n)
    return trange(n, disable=disable)
