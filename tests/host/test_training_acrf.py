"""AC-RF LoRA training inside ComfyUI 0.3.75 (in-process, CPU) on the SD1.5 stand-in: 30 steps on 4 images (64x64)
lower the loss on a fixed evaluation set; the base weights stay bit-identical; only LoRA factors change; the saved
kohya file loads in Forgeline's loader and in ComfyUI's LoraLoader with the same merged weights, which equal the
kohya formula ``W + up @ down * alpha / rank`` (float64, from the file) and give the training-time forward."""
import json

import pytest
import torch

import comfy.model_management
import comfy.sd
import comfy.utils

from forgeline.host import training as ht
from forgeline.nodes import lora_loader as ll
from forgeline.training import AnchorError, LossWeights

STEPS, RANK = 30, 4
LAYERS = "output_blocks"   # decoder-side attention only: backward stops there, cheap on 2 CPU cores


@pytest.fixture(scope="module")
def sd15(tmp_path_factory):
    import folder_paths
    from forgeline.scripts.comfy_server import MODELS_CACHE
    from forgeline.tests.fixtures.models import ensure_checkpoint

    loras = tmp_path_factory.mktemp("loras")
    folder_paths.add_model_folder_path("loras", str(loras), is_default=True)
    path = ensure_checkpoint("sd15", MODELS_CACHE / "checkpoints")
    with torch.inference_mode():                 # as ComfyUI's CheckpointLoaderSimple runs: inference-tensor weights
        model, clip, vae, _ = comfy.sd.load_checkpoint_guess_config(str(path), output_vae=True, output_clip=True)
    assert next(model.model.diffusion_model.parameters()).is_inference()
    images = torch.rand(4, 64, 64, 3, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        latents = ht.encode_images(vae, images).detach()
    cond = clip.encode_from_tokens_scheduled(clip.tokenize("a photo of sks"))
    yield model, clip, latents, cond, loras
    folder_paths.folder_names_and_paths["loras"][0].remove(str(loras))


def eval_loss(patcher, latents, cond):
    """Native eps MSE at fixed sigmas and noise, through ComfyUI's own apply_model (no Forgeline code)."""
    comfy.model_management.load_models_gpu([patcher], force_full_load=True)
    base = patcher.model
    x0 = base.process_latent_in(latents.float())
    sig = torch.tensor([9.1029, 3.1686, 0.9141, 0.2014])
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(99))
    xt = x0 + sig.view(-1, 1, 1, 1) * noise
    ctx = cond[0][0].repeat(4, 1, 1)
    with torch.no_grad():
        x0_hat = base.apply_model(xt, sig, c_crossattn=ctx)
    comfy.model_management.unload_all_models()
    eps_hat = (xt - x0_hat) / sig.view(-1, 1, 1, 1)
    return float(((eps_hat - noise) ** 2).mean())


@pytest.fixture(scope="module")
def trained(sd15):
    model, _clip, latents, cond, _ = sd15
    before = {k: v.clone() for k, v in model.model.state_dict().items()}
    sig = ht.scheduler_sigmas(model, "karras", 10)
    s = ht.TrainSettings(steps=STEPS, batch_size=2, rank=RANK, alpha=2.0, lr=2e-3, seed=3, layer_filter=LAYERS)
    progress = []
    with torch.inference_mode():                 # as ComfyUI runs nodes
        res = ht.train_lora(model, latents, cond, sig, s, on_progress=lambda *a: progress.append(a),
                            output_name="acrf_test", trigger_words=["sks"])
    return res, before, progress


def test_training_reduces_loss(sd15, trained):
    model, _clip, latents, cond, _ = sd15
    res, _, progress = trained
    assert res.stopped is None and len(res.losses) == STEPS and res.prediction == "eps"
    assert [p[0] for p in progress] == list(range(1, STEPS + 1))
    base_loss = eval_loss(model, latents, cond)
    lora_loss = eval_loss(ht.apply_lora(model, res.state_dict), latents, cond)
    print(f"\nfixed-set eps MSE: base {base_loss:.5f} -> with LoRA {lora_loss:.5f}; "
          f"training loss first 5 {sum(res.losses[:5]) / 5:.5f} last 5 {sum(res.losses[-5:]) / 5:.5f}")
    assert lora_loss < base_loss * 0.98


def test_base_weights_bit_identical_and_only_lora_changed(sd15, trained):
    model = sd15[0]
    res, before, _ = trained
    comfy.model_management.unload_all_models()        # take off any LoRA a previous test patched in
    after = model.model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not model.patches, "the input MODEL gets no patches"
    ups = [f.up for f in res.network.factors.values()]
    assert all(torch.count_nonzero(u) > 0 for u in ups), "every LoRA up factor moved from its zero init"


def test_saved_file_loads_in_forgeline_and_comfy_with_same_effect(sd15, trained):
    import nodes

    model, _clip, _lat, _cond, loras = sd15
    res, _, _ = trained
    name = ht.save_lora(res.state_dict, res.metadata, "acrf_test")
    assert name == "acrf_test.safetensors" and ht.save_lora(res.state_dict, res.metadata, "acrf_test") == \
        "acrf_test_2.safetensors"
    sd, meta = comfy.utils.load_torch_file(str(loras / name), safe_load=True, return_metadata=True)
    assert meta["ss_network_dim"] == str(RANK) and meta["ss_network_alpha"] == "2.0"
    assert meta["modelspec.trigger_phrase"] == "sks" and meta["ss_base_model_version"] == "sd_v1"
    assert json.loads(meta["ss_tag_frequency"]) == {"1_sks": {"sks": 4}}
    assert meta["ss_acrf_loss_mode"] == "standard" and meta["ss_steps"] == str(STEPS)
    assert all(k.startswith("lora_unet_up_blocks_") for k in sd), "SD1.5: kohya's diffusers-path names"

    m_comfy = nodes.LoraLoaderModelOnly().load_lora_model_only(model, name, 1.0)[0]
    m_forge, _, applied = ll.apply_loras(model, None, [ll.LoraRequest(name[:-len(".safetensors")])])
    assert applied[0].triggers == ["sks"]
    n_mod = len(res.network.names)
    assert len(m_comfy.patches) == n_mod and len(m_forge.patches) == n_mod

    def merged(m):
        comfy.model_management.load_models_gpu([m], force_full_load=True)
        st = m.model.state_dict()
        out = {k: st[k].clone() for k in m.patches}
        comfy.model_management.unload_all_models()
        return out

    wc, wf = merged(m_comfy), merged(m_forge)
    pristine = model.model.state_dict()
    kohya = {v: k for k, v in ht.kohya_names(res.network.names, model.model.diffusion_model.state_dict().keys()).items()}
    for lname in {k.rsplit(".", 2)[0] for k in sd}:
        key = f"diffusion_model.{kohya[lname]}.weight"
        up, down = sd[f"{lname}.lora_up.weight"].double(), sd[f"{lname}.lora_down.weight"].double()
        ref = pristine[key].double() + up @ down * (float(sd[f"{lname}.alpha"]) / down.shape[0])
        assert torch.allclose(wc[key].double(), ref, atol=1e-6), key
        assert torch.allclose(wf[key].double(), ref, atol=1e-6), key
        assert not torch.equal(pristine[key], wc[key])


def test_training_forward_equals_loaded_lora(sd15, trained):
    model, _clip, latents, cond, _ = sd15
    res, _, _ = trained
    comfy.model_management.load_models_gpu([model], force_full_load=True)
    base = model.model
    x = base.process_latent_in(latents[:1].float())
    sig = torch.tensor([1.7494])
    with torch.no_grad():
        res.network.attach()
        try:
            hooked = base.apply_model(x, sig, c_crossattn=cond[0][0])
        finally:
            res.network.detach()
        m = ht.apply_lora(model, res.state_dict)
        comfy.model_management.load_models_gpu([m], force_full_load=True)
        loaded = m.model.apply_model(x, sig, c_crossattn=cond[0][0])
        comfy.model_management.unload_all_models()
    assert torch.allclose(hooked, loaded, atol=1e-4, rtol=1e-4)


def test_bad_inputs_name_the_input(sd15):
    model, _clip, latents, cond, _ = sd15
    sig = ht.scheduler_sigmas(model, "karras", 10)
    s = ht.TrainSettings(steps=1, rank=2, layer_filter="input_blocks.1.")
    with pytest.raises(ValueError, match="captions: 2 conditionings for 4"):
        ht.train_lora(model, latents, cond + cond, sig, s)
    with pytest.raises(ValueError, match="latents: the training set is empty"):
        ht.train_lora(model, latents[:0], cond, sig, s)
    with pytest.raises(AnchorError, match="sigmas: the schedule has no sigmas"):
        ht.train_lora(model, latents, cond, torch.tensor([]), s)
    with pytest.raises(AnchorError, match="at least 2"):
        ht.train_lora(model, latents, cond, torch.tensor([14.6, 0.0]), s)
    with pytest.raises(ValueError, match="rank 400 is larger than layer"):
        ht.train_lora(model, latents, cond, sig, ht.TrainSettings(steps=1, rank=400, layer_filter="input_blocks.1."))
    with pytest.raises(ValueError, match="targets: no attention layer"):
        ht.train_lora(model, latents, cond, sig, ht.TrainSettings(steps=1, rank=2, layer_filter="nothing_here"))


def test_nan_loss_stops_and_keeps_last_good(sd15):
    model, _clip, latents, cond, _ = sd15
    sig = ht.scheduler_sigmas(model, "karras", 10)
    s = ht.TrainSettings(steps=3, rank=2, layer_filter="input_blocks.1.", weights=LossWeights(charbonnier=float("nan")))
    res = ht.train_lora(model, latents, cond, sig, s)
    assert res.stopped and "step 1 of 3" in res.stopped and res.losses == []
    assert all(torch.count_nonzero(v) == 0 for k, v in res.state_dict.items() if "lora_up" in k)


def test_node_trains_saves_and_outputs(sd15):
    from forgeline.nodes.train_lora_acrf import ForgelineTrainLoraACRF as Node

    model, _clip, latents, cond, loras = sd15
    schema = Node.define_schema()
    assert schema.display_name == "Train LoRA (AC-RF)"
    args = dict(model=model, captions=cond, scheduler="karras", anchor_steps=10, batch_size=2, grad_accumulation=2,
                steps=2, learning_rate=1e-3, loss_mode="unified", lambda_charbonnier=1.0, lambda_cosine=0.1,
                lambda_fft=0.1, alpha_hf=1.0, beta_lf=0.2, lambda_struct=1.0, lambda_light=0.5, lambda_color=0.3,
                lambda_tex=0.5, snr_gamma=5.0, jitter_eta=0.02, jitter="uniform (report text)", rank=2, alpha=1.0,
                targets="attention + feed-forward", layer_filter="output_blocks.3.", seed=1,
                filename="../evil/node_lora", trigger_words="sks, dog")
    with torch.inference_mode():
        out = Node.execute(latents={"samples": latents}, **args)
    m, name, curve = out.result
    assert name == "node_lora.safetensors" and (loras / name).is_file()
    assert curve.shape == (1, 256, 512, 3) and float(curve.min()) < 0.5
    assert len(m.patches) == 10                # output_blocks.3: attn1 + attn2 (q, k, v, out) + ff.net.0.proj, ff.net.2
    meta = comfy.utils.load_torch_file(str(loras / name), safe_load=True, return_metadata=True)[1]
    assert meta["modelspec.trigger_phrase"] == "sks, dog" and meta["ss_acrf_jitter"] == "uniform"
    with pytest.raises(ValueError, match="vae: images were given without a VAE"):
        Node.execute(images=torch.rand(1, 64, 64, 3), **args)
