"""AC-RF training conditioning on the SDXL stand-in (UNet only; synthetic CLIP outputs): each caption's ``y`` is
ComfyUI's own SDXL ``encode_adm`` (pooled output + size/crop embedding at the latent's size), one training update
runs with it, and the file uses kohya's SDXL (LDM-path) names, all of which ComfyUI's loader maps."""
import pytest
import torch

import comfy.lora
import comfy.sd

from forgeline.host import training as ht


@pytest.fixture(scope="module")
def sdxl():
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    path = ensure_checkpoint("sdxl", MODELS_CACHE / "checkpoints")
    model, _, _, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=False, output_clip=False)
    return model


def test_sdxl_conds_and_one_update(sdxl):
    model = sdxl
    g = torch.Generator().manual_seed(0)
    cond = [[torch.randn(1, 77, 2048, generator=g), {"pooled_output": torch.randn(1, 1280, generator=g)}],
            [torch.randn(1, 154, 2048, generator=g), {"pooled_output": torch.randn(1, 1280, generator=g)}]]
    latents = torch.randn(2, 4, 8, 8, generator=g)
    per_image = ht.prepare_model_conds(model.model, cond, latents, torch.device("cpu"))
    for i, c in enumerate(per_image):
        want = model.model.encode_adm(pooled_output=cond[i][1]["pooled_output"], width=64, height=64,
                                      device=torch.device("cpu"))
        assert torch.equal(c["y"].cond, want) and c["y"].cond.shape == (1, 2816)
        assert torch.equal(c["c_crossattn"].cond, cond[i][0])
    batch = ht.batch_conds(per_image, [0, 1], "cpu")
    assert batch["c_crossattn"].shape == (2, 154, 2048) and batch["y"].shape == (2, 2816)   # 77 padded by repeat

    sig = ht.scheduler_sigmas(model, "karras", 4)
    s = ht.TrainSettings(steps=1, batch_size=2, rank=2, alpha=1.0, lr=1e-3, layer_filter="output_blocks.8.1.")
    with torch.inference_mode():
        res = ht.train_lora(model, latents, cond, sig, s)
    assert res.stopped is None and len(res.losses) == 1 and res.metadata["ss_base_model_version"] == "sdxl_base_v1-0"
    assert all(k.startswith("lora_unet_output_blocks_8_1_transformer_blocks_") for k in res.state_dict)
    key_map = comfy.lora.model_lora_keys_unet(model.model, {})
    loaded = comfy.lora.load_lora(res.state_dict, key_map, log_missing=False)
    assert len(loaded) == len(res.network.names)
