"""In-prompt ``<lora:name:te:unet>`` tags applied through the same engine as the loader.

Tags come from the text itself (parsed with ``lora.parse_extra_networks``, A1111 rules) or from conditioning made
by Forgeline's prompt node, which strips the tags and stores the parsed entries on each cond dict under
``"forgeline_lora_tags"``. Each entry becomes a :class:`LoraRequest`: numbers → constant strengths (unet, te);
loractl keyframe text in either slot (``<lora:x:0@0,1@1>``), or ``hr=``/``hrte=``/``hrunet=``, → a schedule;
``lbw=`` / a block preset in the unet slot → block weights. Names resolve like A1111 (no extension needed) and
only inside the loras folders.

Text-encoder strength only acts when the prompt is encoded with the returned CLIP: connect the prompt ``text``
and encode after this node. With only ``conditioning`` connected (already encoded) the UNet part applies and the
report says so.
"""
from __future__ import annotations

import logging

from comfy_api.latest import io

from ..limits import check_prompt, choice_problem, prompt_problem
from ..lora import lora_entries, parse_extra_networks
from ..host.lora_apply import apply_loras
from ..lora.requests import MODES, describe, request_from_tag
from ..host.model_folders import resolve_lora as resolve
from ..lora.extra_networks import tag_warnings, usable_entries

log = logging.getLogger("forgeline")

COND_KEY = "forgeline_lora_tags"


def entries_from_conditioning(conditioning):
    out, seen = [], set()
    for _, meta in conditioning or []:
        for entry in (meta or {}).get(COND_KEY, []) or []:
            tag = entry.get("tag") or repr(sorted(entry.items(), key=str))
            if tag not in seen:
                seen.add(tag)
                out.append(entry)
    return out


class ForgelineApplyPromptLoras(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineApplyPromptLoras",
            display_name="Apply Prompt LoRA Tags",
            category="Forgeline/lora",
            description="Applies the <lora:name:te:unet> tags of a prompt (A1111/loractl syntax) to MODEL and CLIP. "
                        "Encode the prompt with the CLIP this node returns so the te strength takes effect.",
            inputs=[io.Model.Input("model"), io.Clip.Input("clip", optional=True),
                    io.String.Input("text", multiline=True, default="", optional=True,
                                    tooltip="Prompt text holding <lora:…> tags."),
                    io.Conditioning.Input("conditioning", optional=True,
                                          tooltip="Conditioning from Forgeline's prompt node (its parsed tags)."),
                    io.Combo.Input("mode", options=list(MODES), default="loractl",
                                   tooltip="loractl: A1111 timing with its one-step lag; exact: no lag.")],
            outputs=[io.Model.Output(), io.Clip.Output(), io.String.Output(display_name="text_without_tags"),
                     io.String.Output(display_name="trigger_words"), io.String.Output(display_name="report")],
        )

    @classmethod
    def validate_inputs(cls, text=None, mode=None):
        limit = choice_problem("mode", mode, MODES)
        return prompt_problem(text, "text", tags_only=True) if text and limit is True else limit

    @classmethod
    def execute(cls, model, clip=None, text="", conditioning=None, mode="loractl") -> io.NodeOutput:
        check_prompt(text or "", "text", tags_only=True)
        stripped, networks = parse_extra_networks(text or "", strict=False)
        entries, skipped = usable_entries(lora_entries(networks) + entries_from_conditioning(conditioning), resolve)
        skipped = tag_warnings(networks) + skipped
        for warning in skipped:
            log.warning("Forgeline Apply Prompt LoRA Tags: %s", warning)
        model, clip, applied = apply_loras(model, clip, [request_from_tag(e, mode) for e in entries])
        words, report = describe(applied)
        report = "\n".join([report] * bool(report) + [f"warning: {w}" for w in skipped])
        if conditioning is not None and not text and entries:
            report += "\nnote: tags came from encoded conditioning; te strengths apply only to prompts encoded " \
                      "with the returned CLIP."
        return io.NodeOutput(model, clip, stripped, words, report or "no LoRA tags")


NODES = [ForgelineApplyPromptLoras]
