"""ComfyUI side of the LCM-LoRA merge: LCM model sampling and saving a merged checkpoint.

``lcm_model_sampling`` patches in ComfyUI's own ``ModelSamplingDiscreteDistilled`` + ``LCM`` (what ComfyUI's
``ModelSamplingDiscrete`` node does for ``sampling = lcm``, ``comfy_extras/nodes_model_advanced.py``);
``save_merged_checkpoint`` is ComfyUI's ``save_checkpoint`` (``comfy_extras/nodes_model_merging.py``).
"""
from __future__ import annotations


def lcm_model_sampling(model):
    """``model`` (a clone) with ComfyUI's LCM model sampling object patched in."""
    from comfy_extras.nodes_model_advanced import LCM, ModelSamplingDiscreteDistilled

    class ModelSamplingLCM(ModelSamplingDiscreteDistilled, LCM):
        pass

    model.add_object_patch("model_sampling", ModelSamplingLCM(model.model.model_config, zsnr=False))
    return model


def save_merged_checkpoint(model, clip, prefix):
    import folder_paths
    from comfy_extras.nodes_model_merging import save_checkpoint

    save_checkpoint(model, clip=clip, filename_prefix=prefix, output_dir=folder_paths.get_output_directory())
