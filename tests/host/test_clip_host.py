"""A1111 Prompt Encode runs the text encoder the way the host's own ``CLIP.encode_from_tokens`` does
(comfyanonymous/ComfyUI ``comfy/sd.py``): with the CLIP's LoRA patches applied, and — on hosts whose encoders take an
``execution_device`` option (0.33.0) — on ``clip.patcher.load_device``. Under dynamic VRAM the CLIP starts on the
offload device, so without it the encode would run on the CPU and skip the patches (what only a GPU shows; the
contract is checked here: the option is set while the encoder runs).

Reference: the host's own ``encode_from_tokens`` on the same (LoRA-patched) CLIP. For a plain prompt (no weights,
one chunk) A1111's encoding equals ComfyUI's: same ids, Original emphasis with all weights 1 is the identity."""
import torch


from forgeline.host import clip as host_clip
from forgeline.host import lora_apply as ll
from forgeline.nodes import prompt_encode as pe


def _stock(clip, text):
    return clip.encode_from_tokens(clip.tokenize(text), return_pooled=True)


def test_text_encoder_lora_applies_and_the_execution_device_is_set(sd15):
    model, clip = sd15
    _, patched, _ = ll.apply_loras(None, clip, [ll.LoraRequest("forgeline_sd15_kohya", 1.0, 0.9)])
    assert patched.patcher.patches, "the LoRA must patch the text encoder"
    encoder = patched.cond_stage_model.clip_l
    seen = []
    real_encode = type(encoder).encode

    def spying_encode(self, rows):
        seen.append(getattr(self, "execution_device", "no such option"))
        return real_encode(self, rows)

    encoder.encode = spying_encode.__get__(encoder)
    try:
        conditioning, _ = pe.encode_prompt(patched, "a photo of a cat", pe.EncodeOptions(steps=4))
    finally:
        del encoder.encode
    ours = conditioning[0][0]
    theirs, _pooled = _stock(patched, "a photo of a cat")
    assert torch.allclose(ours, theirs.float(), atol=1e-5, rtol=1e-5)
    unpatched, _ = _stock(clip, "a photo of a cat")
    assert not torch.allclose(ours, unpatched.float(), atol=1e-4)          # the TE LoRA changed the encoding
    assert seen, "the encoder ran"
    if host_clip.has_execution_device(patched):
        assert all(d == patched.patcher.load_device for d in seen), seen
    else:
        assert seen == ["no such option"] * len(seen)
