"""A1111 Prompt Encode in a real ComfyUI server: SD1.5 and SDXL workflows with prompt editing produce images, bad
syntax gives a readable error or a warning without hurting the server, and the widget keeps dynamic prompts off."""
import io

from PIL import Image

from forgeline.tests.e2e.graphs_prompt import SD15, SDXL, encode_only, prompt_txt2img


def _png_size(client, result):
    (image,) = result.images()
    return Image.open(io.BytesIO(client.view(image))).size


def test_node_schema_keeps_dynamic_prompts_off(client):
    info = client.object_info("ForgelinePromptEncode")["ForgelinePromptEncode"]
    text = info["input"]["required"]["text"]
    assert text[0] == "STRING" and text[1]["multiline"] is True and text[1]["dynamicPrompts"] is False
    assert "ForgelineStepSemantics" in client.object_info()


def test_sd15_prompt_editing_exact_steps_makes_image(client):
    result = client.run(prompt_txt2img(SD15, sampler="dpmpp_2s_ancestral", prefix="prompt_sd15"))
    assert result.status == "success", result.error
    assert _png_size(client, result) == (64, 64)


def test_sd15_stock_ksampler_fallback_makes_image(client):
    result = client.run(prompt_txt2img(SD15, positive="[a|b] cat AND dog:0.5", exact_steps=False, seed=2,
                                       prefix="prompt_sd15_stock"))
    assert result.status == "success", result.error


def test_sdxl_prompt_editing_makes_image(client):
    result = client.run(prompt_txt2img(SDXL, positive="a [cat:dog:1], (photo:1.1)", steps=2, prefix="prompt_sdxl"))
    assert result.status == "success", result.error
    assert _png_size(client, result) == (64, 64)


def test_stray_pipe_warning_reaches_the_client(client):
    result = client.run(encode_only("x | y [a:b:0.5]"))
    assert result.status == "success", result.error
    texts = result.outputs["enc"]["text"]
    assert any("'|'" in t and "x | y [a:b:0.5]" in t for t in texts), result.outputs


def test_bad_weight_is_a_readable_error_and_server_survives(client):
    bad = client.run(encode_only("a (cat:1.2.3)"))
    assert bad.status == "error"
    assert "1.2.3" in bad.error["exception_message"]
    good = client.run(prompt_txt2img(SD15, positive="a (cat:1.2)", seed=3, prefix="prompt_after_error"))
    assert good.status == "success", good.error


def test_pathological_prompt_is_refused_at_validation_with_the_limit_named(client):
    """32 004 characters of nesting: refused before any work (limits/: 20 000 characters), the message says what to
    change; a deep but short prompt still encodes."""
    import pytest
    from comfy_client import ComfyError

    with pytest.raises(ComfyError, match="20000"):
        client.run(encode_only("(" * 10000 + "deep" + ")" * 10000 + " [a:" * 3000))
    result = client.run(encode_only("(" * 40 + "deep" + ")" * 40 + " [a:" * 300))   # 1.1^40 = 45: allowed
    assert result.status == "success", result.error
