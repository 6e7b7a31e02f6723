"""Forgeline samplers: Euler a and DPM++ 2S a (EPS and flow branches), their helpers, CFG, the noise sources
(ComfyUI default, A1111 CPU/GPU/NV with ENSD and subseeds, CUDA-Philox emulation), and A1111's HiRes-fix step/size
and refiner-switch arithmetic.

Pure torch/numpy; no ComfyUI import. ``sample_lcm`` and the other samplers are ComfyUI's own.
"""
from .ancestral_step import get_ancestral_step, get_ancestral_step_rf
from .dpmpp_2s_ancestral import sample_dpmpp_2s_ancestral, sample_dpmpp_2s_ancestral_rf
from .euler_ancestral import sample_euler_ancestral, sample_euler_ancestral_rf
from .flow import find_model_sampling, is_flow_model
from .hires_size import HiresSize, hires_target_size
from .hires_steps import hires_pass_steps, hires_schedule_length, hires_sigma_start
from .karras_ode import append_dims, to_d
from .noise_a1111 import RANDN_SOURCES, A1111ImageRNG, a1111_seeds, a1111_slerp
from .noise_comfy import comfy_noise_sampler
from .philox import PhiloxGenerator, box_muller, philox4x32_10
from .progress import step_range
from .refiner_switch import refiner_switch_step_by_steps, refiner_switch_step_by_timestep

__all__ = [
    "A1111ImageRNG", "HiresSize", "PhiloxGenerator", "RANDN_SOURCES", "a1111_seeds",
    "a1111_slerp", "append_dims", "box_muller", "comfy_noise_sampler", "find_model_sampling", "get_ancestral_step", "get_ancestral_step_rf",
    "hires_pass_steps", "hires_schedule_length", "hires_sigma_start", "hires_target_size",
    "is_flow_model", "philox4x32_10", "refiner_switch_step_by_steps", "refiner_switch_step_by_timestep",
    "sample_dpmpp_2s_ancestral", "sample_dpmpp_2s_ancestral_rf", "sample_euler_ancestral",
    "sample_euler_ancestral_rf", "step_range", "to_d",
]
