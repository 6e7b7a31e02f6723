"""Flow (CONST) model detection for the ancestral samplers, duck-typed.

ComfyUI dispatches ``sample_euler_ancestral`` / ``sample_dpmpp_2s_ancestral`` to their ``_RF`` variants when
``isinstance(model.inner_model.inner_model.model_sampling, comfy.model_sampling.CONST)`` (ComfyUI
``comfy/k_diffusion/sampling.py``). To stay free of ComfyUI imports we look up the same object (also via
``model.inner_model.model_patcher`` or a bare
``model.model_sampling``) and test whether a class named ``CONST`` is in its MRO.
"""

_PATHS = (("inner_model", "inner_model", "model_sampling"), ("inner_model", "model_sampling"), ("model_sampling",))


def find_model_sampling(model):
    """The ``model_sampling`` object reachable from a ComfyUI-wrapped denoiser, or ``None``."""
    for path in _PATHS:
        obj = model
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                break
        if obj is not None:
            return obj
    patcher = getattr(getattr(model, "inner_model", None), "model_patcher", None)
    if patcher is not None and hasattr(patcher, "get_model_object"):
        try:
            return patcher.get_model_object("model_sampling")
        except (AttributeError, KeyError):
            return None
    return None


def is_flow_model(model):
    """True when the model's sampling object derives from a class named ``CONST`` (SD3, Flux, AuraFlow …)."""
    model_sampling = find_model_sampling(model)
    if model_sampling is None:
        return False
    return any(cls.__name__ == "CONST" for cls in type(model_sampling).__mro__)
