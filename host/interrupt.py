"""ComfyUI's interrupt flag (``comfy.model_management``): the Cancel button / ``POST /interrupt``.

``check_interrupted()`` raises ComfyUI's ``InterruptProcessingException`` when the user asked to stop, exactly as
``comfy.model_management.throw_exception_if_processing_interrupted`` does (same exception, so the executor reports
"interrupted" and runs nothing further). Long pack work calls it between units (one CLIP chunk encode, one prompt
variant, one LoRA re-merge) so a cancel takes effect within one unit. Present in ComfyUI 0.3.75 and 0.33.0; when
ComfyUI is not importable (pure core tests) it does nothing.
"""
try:
    from comfy.model_management import throw_exception_if_processing_interrupted as _throw
except ImportError:  # no ComfyUI: nothing can interrupt
    _throw = None


def check_interrupted():
    """Raise ComfyUI's interrupt exception if processing was interrupted; otherwise return None (cheap: a flag)."""
    if _throw is not None:
        _throw()
