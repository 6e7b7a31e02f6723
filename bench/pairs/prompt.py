"""`prompt_encode`: A1111 Prompt Encode vs native CLIPTextEncode on the same 3-chunk text (SD1.5 stand-in).

The text has three ~60-token sections joined by BREAK: Forgeline makes three 77-token chunks (BREAK), and native
ComfyUI, which reads BREAK as a word, also needs three chunks for the ~180 tokens, so both run the transformer on
3×77 tokens. ``i`` is appended as a number so ComfyUI's cache re-runs the encoder every repetition. ``extra``
queues one unchanged encode twice and reports whether ComfyUI served the node from its cache the second time
(``execution_cached`` lists it), i.e. an unchanged prompt is not re-encoded.
"""
from harness import WorkflowPair

from forgeline.tests.e2e.graphs_prompt import encode_only

_SECTION = ("masterpiece, (best quality:1.2), a detailed photo of a small [red] cat sitting on a wooden table "
            "next to a window, soft morning light, shallow depth of field, film grain, warm colours, cosy room, "
            "plants on the sill, a cup of tea, books, ((sharp focus)), natural shadows")
TEXT = " BREAK ".join([_SECTION] * 3)


def _cache_check(client, server):
    text = TEXT + " cache probe"
    first = client.run(encode_only(text))
    second = client.run(encode_only(text))
    cached = [n for m in second.messages if m.get("type") == "execution_cached" for n in m["data"].get("nodes", [])]
    executed = [m["data"].get("node") for m in second.messages if m.get("type") == "executing"]
    return {"first_status": first.status, "requeue_cached_nodes": sorted(cached),
            "requeue_reencoded": "enc" in executed, "requeue_not_reencoded": "enc" in cached}


PAIRS = [
    WorkflowPair(
        id="prompt_encode",
        description="encode a 3-chunk BREAK prompt: A1111 Prompt Encode vs native CLIPTextEncode (same text)",
        pack=lambda i: encode_only(f"{TEXT} {i}"),
        baseline=lambda i: encode_only(f"{TEXT} {i}", native=True),
        runs=7,
        goal=1.10,
        extra=_cache_check,
        pack_label="ForgelinePromptEncode",
        baseline_label="CLIPTextEncode",
    ),
]
