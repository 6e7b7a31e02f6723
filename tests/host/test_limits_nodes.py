"""Each pack node's ``validate_inputs`` refuses the inputs issue 12 found reaching the allocator or a NaN image,
naming the input and the limit (ComfyUI then answers HTTP 400 before anything runs). ComfyUI in-process, no model.

ComfyUI skips its own min/max check for an input a node's ``validate_inputs`` takes, and NaN passes ``val < min``
and ``val > max`` anyway (``execution.validate_inputs``), so the node's check is the only one.
"""
import math

import pytest

from forgeline.nodes.empty_latent import ForgelineEmptyLatent
from forgeline.nodes.hires_fix import ForgelineHiResFix
from forgeline.nodes.ksampler_a1111 import ForgelineKSampler
from forgeline.nodes.lcm_lora import ForgelineLCMLoraMerge
from forgeline.nodes.lora_loader import ForgelineLoraLoader, LoraRequest
from forgeline.nodes.lora_plot import ForgelineLoraWeightPlot
from forgeline.nodes.lora_stack import ForgelineLoraStack
from forgeline.nodes.lora_tags import ForgelineApplyPromptLoras
from forgeline.nodes.prompt_encode import ForgelinePromptEncode
from forgeline.nodes.refiner import ForgelineRefiner
from forgeline.nodes.sigmas import ForgelineAYSSigmas, ForgelineKarrasSigmas

NAN = math.nan


@pytest.mark.parametrize("call, needle", [
    (lambda: ForgelineKSampler.validate_inputs(steps=10 ** 9), "steps=1000000000 is above the limit of 10000"),
    (lambda: ForgelineKSampler.validate_inputs(cfg=NAN), "cfg=nan is not a finite number"),
    (lambda: ForgelineKarrasSigmas.validate_inputs(steps=10 ** 9), "steps=1000000000 is above the limit of 10000"),
    (lambda: ForgelineKarrasSigmas.validate_inputs(sigma_max="abc"), "sigma_max='abc' is not a number"),
    (lambda: ForgelineAYSSigmas.validate_inputs(steps=100000), "steps=100000 is above the limit of 10000"),
    (lambda: ForgelineEmptyLatent.validate_inputs(width=16384, height=16384, batch_size=4096),
     "above the limit of 1073741824"),
    (lambda: ForgelineLoraLoader.validate_inputs(strength_model=NAN), "strength_model=nan is not a finite"),
    (lambda: ForgelineLoraLoader.validate_inputs(schedule="0@0,nan@1"), "not a finite number"),
    (lambda: ForgelineLoraLoader.validate_inputs(block_weights="inf" + ",1" * 16), "not a\nfinite|not a finite"),
    (lambda: ForgelineLoraStack.validate_inputs(strength_clip_3=math.inf), "strength_clip_3=inf"),
    (lambda: ForgelineLoraStack.validate_inputs(mode="../x"), "mode='../x' is not one of the choices"),
    (lambda: ForgelineLCMLoraMerge.validate_inputs(lcm_strength=NAN), "lcm_strength=nan"),
    (lambda: ForgelineLoraWeightPlot.validate_inputs(schedules="s: 0@0,nan@1"), "not a finite number"),
    (lambda: ForgelineApplyPromptLoras.validate_inputs(text="<a:" * 70000), "210000 characters"),
    (lambda: ForgelineApplyPromptLoras.validate_inputs(text="<lora:x:nan>"), "not a finite number"),
    (lambda: ForgelineApplyPromptLoras.validate_inputs(mode=5), "mode=5 is not one of the choices"),
    (lambda: ForgelinePromptEncode.validate_inputs(text="a BREAK " * 2000, steps=20), "2000 BREAK keywords"),
    (lambda: ForgelinePromptEncode.validate_inputs(text="a AND " * 300, steps=20), "301 AND sub-prompts"),
    (lambda: ForgelinePromptEncode.validate_inputs(text="(" * 5000 + "x", steps=20), "emphasis weight"),
    (lambda: ForgelinePromptEncode.validate_inputs(text="a", steps=10 ** 5), "steps=100000 is above"),
    (lambda: ForgelineHiResFix.validate_inputs(upscale_by="abc"), "upscale_by='abc' is not a number"),
    (lambda: ForgelineHiResFix.validate_inputs(hires_sampler="nope"), "hires_sampler='nope' is not one of"),
    (lambda: ForgelineRefiner.validate_inputs(aesthetic_score=NAN), "aesthetic_score=nan"),
])
def test_bad_inputs_are_refused_naming_the_input(call, needle):
    import re
    msg = call()
    assert msg is not True and re.search(needle, msg), msg


def test_good_inputs_pass():
    assert ForgelineKSampler.validate_inputs(steps=20, cfg=7.0, denoise=1.0) is True
    assert ForgelineEmptyLatent.validate_inputs(width=512, height=512, batch_size=4) is True
    assert ForgelinePromptEncode.validate_inputs(text="a (cat:1.2) BREAK dog AND sky:0.5 <lora:x:0.8>", steps=20,
                                                 hires_steps=10) is True
    assert ForgelineApplyPromptLoras.validate_inputs(text="a <lora:x:abc> b", mode="loractl") is True  # skipped tag


def test_lora_request_refuses_non_finite_strengths():
    with pytest.raises(ValueError, match="LoRA 'x': strength_model=nan"):
        LoraRequest("x", NAN, 1.0)
