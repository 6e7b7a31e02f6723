"""KSampler (A1111): ComfyUI's KSampler with A1111's seeds, noise, eta/s_noise and img2img step count.

A thin node over ``a1111_sampling.sample_a1111`` (the runner shared with HiRes Fix and Refiner).
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host import dropdowns
from ..host.sampling import (IMG2IMG_STEP_RULES, NOISE_SOURCES, sample_a1111, sampler_names, sampling_input_error,
                             scheduler_names)

SEED_MAX = 0xFFFFFFFFFFFFFFFF

CFG_NOTE = ("CFG is ComfyUI's rule eps = eps_uncond + cfg·(eps_cond - eps_uncond), the same as A1111 (the uncond pass is "
            "skipped at cfg 1). The classifier-free guidance paper's (1+w)·eps_c - w·eps_u is this with cfg = 1 + w.")


def seed_input(name="seed", tooltip="Seed. With an A1111 noise source, image i of the batch uses seed + i, as A1111 "
                                    "does, so A1111 seeds reproduce."):
    return io.Int.Input(name, default=0, min=0, max=SEED_MAX, control_after_generate=True, tooltip=tooltip)


def noise_inputs():
    """eta, s_noise, noise source and ENSD: the knobs shared by the KSampler and the SAMPLER nodes."""
    return [
        io.Float.Input("eta", default=1.0, min=0.0, max=100.0, step=0.01,
                       tooltip="Ancestral noise amount (A1111 'Eta for ancestral samplers', default 1). 0 gives the "
                               "deterministic ODE step; > 1 over-noises."),
        io.Float.Input("s_noise", default=1.0, min=0.0, max=100.0, step=0.01,
                       tooltip="Scale of the per-step ancestral noise only, never the initial noise (A1111 "
                               "'sigma noise'; A1111 always uses 1 for Euler a)."),
        io.Combo.Input("noise_source", options=list(NOISE_SOURCES), default="a1111_gpu",
                       tooltip="comfy: ComfyUI's CPU noise (same image as the stock KSampler). a1111_gpu: A1111's "
                               "default 'GPU' RNG, CUDA torch.randn numbers reproduced on any device. a1111_cpu: "
                               "A1111 'CPU'. a1111_nv: A1111 'NV' (Philox emulation)."),
        io.Int.Input("ensd", default=0, min=0, max=SEED_MAX,
                     tooltip="A1111 'Eta noise seed delta' (ENSD): after the initial noise, the ancestral noise is "
                             "re-seeded with seed + ENSD (31337 is the NovelAI convention). 0 = continue the stream. "
                             "Ignored by the comfy source."),
    ]


class ForgelineKSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        dropdowns.on_load()  # the sampler/scheduler lists below include the registered names either way
        return io.Schema(
            node_id="ForgelineKSampler",
            display_name="KSampler (A1111)",
            category="Forgeline/sampling",
            description="Denoise a latent like A1111: A1111 seeds (GPU/CPU/NV RNG, per-image seeds, ENSD), "
                        "x_T = noise·sigma_max, eta and s_noise, and A1111's img2img step count. Samplers: Forgeline's "
                        "Euler a and DPM++ 2S a (k-diffusion, as A1111 runs them) or any ComfyUI sampler; "
                        "schedulers: Karras, Align Your Steps (SD1/SDXL/SVD detected) or any ComfyUI scheduler. "
                        + CFG_NOTE,
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model."),
                io.Conditioning.Input("positive", tooltip="Prompt conditioning (cond)."),
                io.Conditioning.Input("negative", tooltip="Negative prompt conditioning (uncond)."),
                io.Latent.Input("latent_image", tooltip="Empty latent for txt2img, or an encoded image for img2img "
                                                        "(with denoise < 1)."),
                seed_input(),
                io.Int.Input("steps", default=20, min=1, max=10000, tooltip="Sampling steps (A1111 'Sampling steps')."),
                io.Float.Input("cfg", default=7.0, min=0.0, max=100.0, step=0.1, round=0.01,
                               tooltip="CFG scale s: eps_u + s·(eps_c - eps_u). 1 skips the uncond pass."),
                io.Combo.Input("sampler_name", options=sampler_names(), default="forgeline_euler_a",
                               tooltip="forgeline_euler_a / forgeline_dpmpp_2s_a are A1111's 'Euler a' and "
                                       "'DPM++ 2S a'; the others are ComfyUI's samplers."),
                io.Combo.Input("scheduler", options=scheduler_names(), default="forgeline_karras",
                               tooltip="forgeline_karras: Karras (rho 7). forgeline_ays: Align Your Steps as NVIDIA/"
                                       "ComfyUI. forgeline_ays_11 / _32: Forge's 'Align Your Steps 11' / '32'. "
                                       "normal = A1111 'Automatic' for Euler a."),
                io.Float.Input("denoise", default=1.0, min=0.0, max=1.0, step=0.01,
                               tooltip="1 = txt2img. Below 1 (img2img) the input latent is kept in part; see "
                                       "img2img_steps for how many steps run."),
                *noise_inputs(),
                io.Combo.Input("img2img_steps", options=list(IMG2IMG_STEP_RULES), default="a1111",
                               tooltip="Steps run when denoise < 1. a1111: int(denoise·steps)+1 steps of the "
                                       "steps-long schedule (A1111 img2img). comfy: exactly 'steps' steps of a "
                                       "steps/denoise schedule (ComfyUI KSampler, A1111 'fix steps', HiRes pass)."),
                io.Int.Input("variation_seed", default=0, min=0, max=SEED_MAX, optional=True,
                             tooltip="A1111 'Variation seed' (Extra): noise of this seed (+ i per image) is slerped "
                                     "into the seed's noise by variation_strength. Needs an a1111_* noise source."),
                io.Float.Input("variation_strength", default=0.0, min=0.0, max=1.0, step=0.01, optional=True,
                               tooltip="A1111 'Variation strength': 0 = off; above 0 every image keeps 'seed' and "
                                       "varies by variation_seed + i, as A1111 does."),
                io.Int.Input("resize_seed_from_width", default=0, min=0, max=16384, step=8, optional=True,
                             tooltip="A1111 'Resize seed from width' (Extra): the seed's noise is made at this "
                                     "width × resize_seed_from_height and pasted centred into this size, so an image "
                                     "keeps its composition at a new size. 0 = off (both must be set). Needs an "
                                     "a1111_* noise source."),
                io.Int.Input("resize_seed_from_height", default=0, min=0, max=16384, step=8, optional=True,
                             tooltip="A1111 'Resize seed from height'; see resize_seed_from_width."),
            ],
            outputs=[io.Latent.Output()],
        )

    @classmethod
    def validate_inputs(cls, steps=None, denoise=None, sampler_name=None, scheduler=None, noise_source=None,
                        img2img_steps=None, cfg=None, eta=None, s_noise=None, variation_strength=None,
                        resize_seed_from_width=None, resize_seed_from_height=None):
        if variation_strength and noise_source == "comfy":
            return ("variation_strength > 0 needs an A1111 noise source (a1111_gpu, a1111_cpu or a1111_nv); "
                    "set noise_source or variation_strength to 0")
        resize = [int(v) for v in (resize_seed_from_width, resize_seed_from_height) if isinstance(v, (int, float))]
        if any(0 < v < 8 for v in resize):
            return "resize_seed_from_width/height must be 0 (off) or at least 8 pixels (one latent pixel)"
        if len(resize) == 2 and all(resize) and noise_source == "comfy":
            return ("resize_seed_from_width/height need an A1111 noise source (a1111_gpu, a1111_cpu or a1111_nv); "
                    "set noise_source or set them to 0")
        return sampling_input_error(steps=steps, denoise=denoise, sampler_name=sampler_name, scheduler=scheduler,
                                    noise_source=noise_source, img2img_steps=img2img_steps, cfg=cfg, eta=eta,
                                    s_noise=s_noise) or True

    @classmethod
    def execute(cls, model, positive, negative, latent_image, seed, steps, cfg, sampler_name, scheduler, denoise,
                eta, s_noise, noise_source, ensd, img2img_steps, variation_seed=0,
                variation_strength=0.0, resize_seed_from_width=0, resize_seed_from_height=0) -> io.NodeOutput:
        out, _info = sample_a1111(model, positive, negative, latent_image, seed=seed, steps=steps, cfg=cfg,
                                  sampler_name=sampler_name, scheduler=scheduler, denoise=denoise, eta=eta,
                                  s_noise=s_noise, noise_source=noise_source, ensd=ensd,
                                  img2img_steps=img2img_steps, disable_pbar=None,
                                  subseed=variation_seed if variation_strength else None,
                                  subseed_strength=float(variation_strength or 0.0),
                                  seed_resize_from_w=int(resize_seed_from_width or 0),
                                  seed_resize_from_h=int(resize_seed_from_height or 0))
        return io.NodeOutput(out)


NODES = [ForgelineKSampler]
