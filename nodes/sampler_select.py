"""SAMPLER nodes for ``SamplerCustomAdvanced``: Forgeline's Euler a and DPM++ 2S a with A1111 noise options.

With an A1111 noise source the sampler replaces the NOISE input's noise by A1111's for the NOISE node's seed
(``RandomNoise``'s noise_seed; image i uses seed + i; ``DisableNoise`` stays noiseless), starts from
``noise·σ_0`` and draws the ancestral noise from the same per-image generators (ENSD applied).
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host.sampling import build_sampler, sampling_input_error
from .ksampler_a1111 import noise_inputs


class _ForgelineSampler(io.ComfyNode):
    SAMPLER = ""

    @classmethod
    def _schema(cls, node_id, display_name, description):
        return io.Schema(
            node_id=node_id,
            display_name=display_name,
            category="Forgeline/sampling/custom_sampling",
            description=description + " Use with SamplerCustomAdvanced; with an A1111 noise source, the NOISE "
                                      "node's seed becomes the A1111 seed.",
            inputs=noise_inputs(),
            outputs=[io.Sampler.Output()],
        )

    @classmethod
    def validate_inputs(cls, eta=None, s_noise=None, noise_source=None):
        return sampling_input_error(eta=eta, s_noise=s_noise, noise_source=noise_source) or True

    @classmethod
    def execute(cls, eta, s_noise, noise_source, ensd) -> io.NodeOutput:
        return io.NodeOutput(build_sampler(cls.SAMPLER, eta=eta, s_noise=s_noise, noise_source=noise_source,
                                           ensd=ensd, replace_noise=True))


class ForgelineSamplerEulerA(_ForgelineSampler):
    SAMPLER = "forgeline_euler_a"

    @classmethod
    def define_schema(cls):
        return cls._schema("ForgelineSamplerEulerA", "Sampler Euler a (A1111)",
                           "Euler ancestral (k-diffusion sample_euler_ancestral, A1111 'Euler a'): one model call "
                           "per step.")


class ForgelineSamplerDPMPP2SA(_ForgelineSampler):
    SAMPLER = "forgeline_dpmpp_2s_a"

    @classmethod
    def define_schema(cls):
        return cls._schema("ForgelineSamplerDPMPP2SA", "Sampler DPM++ 2S a (A1111)",
                           "DPM-Solver++(2S) ancestral (k-diffusion sample_dpmpp_2s_ancestral, A1111 'DPM++ 2S a'): "
                           "2·steps - 1 model calls.")


NODES = [ForgelineSamplerEulerA, ForgelineSamplerDPMPP2SA]
