"""Batch prompts (A1111): one prompt per line, each with its own <lora:...> set, sampled as one batch.

Rule: image ``i`` of the batch gets line ``i`` with exactly what a single run of that line would do — the line
encoded A1111-style by ``ForgelinePromptEncode`` (weights, BREAK, prompt editing, embeddings) with a CLIP carrying
the line's LoRA text-encoder strengths (``ForgelineApplyPromptLoras``), its negative (shared or per line) encoded
with that same CLIP, and its UNet LoRAs applied to its rows only by ``host.batched_lora`` (S-LoRA-style gathered
low-rank products, ``lora/batched.py``). Prompt editing switches per image (``prompt/batch_rows.py``). Seeds are
A1111's ``seed + i`` with KSampler (A1111) and an A1111 noise source, so image ``i`` equals a single run of line
``i`` with seed ``seed + i``; the stock KSampler samples the same batch with ComfyUI's batch noise.

Batch size: the latent's batch must equal the number of lines; connect ``batch_size`` to Empty Latent Image (or
connect ``latent`` here to have it checked before encoding). A mismatch is an error naming the lines without
an image; the sampler checks again at run time. A line whose LoRA does not fit the model, or a blank line
between prompts, is an error naming the line; no line is ever given another line's LoRA.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..host import batched_lora as hb
from ..host import cond_cache
from ..host.model_folders import folders
from ..host.schema_types import declared_inputs_problem
from ..limits import prompt_problem
from ..lora import block_multipliers, lora_entries, parse_extra_networks
from ..lora.batched import entry_unet_slots
from ..prompt import EMPHASIS_MODES
from ..prompt.batch_rows import BatchPromptError, batch_conditioning, negative_lines, prompt_lines
from ..prompt.embedding_files import list_embedding_files
from .lora_tags import ForgelineApplyPromptLoras
from .prompt_encode import ForgelinePromptEncode

MODES = ("loractl", "exact")


def _label(i, line):
    short = line if len(line) <= 40 else line[:37] + "..."
    return f"line {i + 1} ({short!r})"


def _encode(clip, text, negative, o):
    return ForgelinePromptEncode.execute(clip, text, negative, o["emphasis"], o["comma_padding_backtrack"],
                                         o["clip_skip"], o["steps"], 0, o["width"], o["height"], 0, 0, o["width"],
                                         o["height"]).result[0]


def _embeddings_signature():
    safe, pickled = list_embedding_files(folders("embeddings"))
    return tuple(sorted(safe)), tuple(sorted(pickled)), cond_cache.file_signature(
        list(safe.values()) + list(pickled.values()))


def _te_signature(entry, path):
    """What a ``<lora:…>`` entry changes in the text encoder: the file and every tag field but the UNet strength."""
    from ..lora.file_cache import file_key

    fields = sorted((k, repr(v)) for k, v in entry.items() if k not in ("unet", "tag"))
    return (file_key(path), tuple(fields))


def _line_loras(model, clip, line, label, mode, targets):
    """``(() -> clip for this line, [(use name, unet adapters, slots, block ratios, description)], text-encoder
    signature of the line's LoRAs)``; the line's CLIP (a clone with its text-encoder LoRA patches) is only built
    when an encode needs it, i.e. on a ``cond_cache`` miss."""
    try:
        _, networks = parse_extra_networks(line)
        entries = lora_entries(networks)
        if not entries:
            return (lambda: clip), [], ()
        built = []

        def line_clip():
            if not built:
                try:
                    built.append(ForgelineApplyPromptLoras.execute(model, clip, text=line, mode=mode).result[1])
                except OSError as e:        # the caller names the line
                    raise ValueError(str(e)) from None
            return built[0]
        uses, seen, te_sig = [], {}, []
        for entry in entries:
            path = hb.lora_path(entry["name"])
            te_sig.append(_te_signature(entry, path))
            _, unet = hb.load_unet_adapters(path, targets)
            lbw = (entry.get("lbw") or "").strip()
            ratios = block_multipliers(list(unet), lbw) if lbw else None
            n = seen[str(path)] = seen.get(str(path), -1) + 1
            uses.append((f"{path}|{lbw}|{mode}|#{n}", unet, entry_unet_slots(entry), ratios,
                         f"{entry['name']} (te {entry['te']}, unet {entry['unet']}{', lbw ' + lbw if lbw else ''})"))
        return line_clip, uses, (mode, tuple(te_sig))
    except (ValueError, OSError) as e:
        raise ValueError(f"Batch prompts (A1111): {label}: {e}") from None


class ForgelineBatchPrompts(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id="ForgelineBatchPrompts",
            display_name="Batch prompts (A1111)",
            category="Forgeline/conditioning",
            description="One prompt per line, each with its own (weights), BREAK, [prompt:editing:steps] and "
                        "<lora:name:te:unet> tags (loractl schedules too), sampled as ONE batch: image i gets line "
                        "i and only line i's LoRAs. With KSampler (A1111) and an A1111 noise source image i equals "
                        "a single run of line i with seed + i. Set the latent batch size to the number of lines.",
            inputs=[
                io.Model.Input("model"),
                io.Clip.Input("clip", tooltip="SD1.x or SDXL CLIP; each line's LoRA te strength is applied to it."),
                io.String.Input("prompts", multiline=True, default="",
                                tooltip="One prompt per line (A1111 syntax, <lora:...> tags per line). No blank "
                                        "lines between prompts."),
                io.String.Input("negative", multiline=True, default="",
                                tooltip="One line = the negative for every prompt; or exactly one line per prompt."),
                io.Combo.Input("emphasis", options=list(EMPHASIS_MODES), default="Original",
                               tooltip="A1111 'Emphasis mode' (as A1111 Prompt Encode)."),
                io.Int.Input("clip_skip", default=1, min=1, max=12, tooltip="A1111 'Clip skip' (SD1 only)."),
                io.Int.Input("steps", default=20, min=1, max=10000,
                             tooltip="Sampling steps, for prompt editing; set it to the sampler's steps."),
                io.Combo.Input("mode", options=list(MODES), default="loractl",
                               tooltip="LoRA schedules: loractl = A1111 timing (one-step lag); exact = no lag."),
                io.Int.Input("comma_padding_backtrack", default=20, min=0, max=74, optional=True,
                             tooltip="A1111 'Prompt word wrap length limit'."),
                io.Int.Input("width", default=1024, min=0, max=16384, step=8, optional=True,
                             tooltip="SDXL size conditioning (width = target width)."),
                io.Int.Input("height", default=1024, min=0, max=16384, step=8, optional=True,
                             tooltip="SDXL size conditioning (height = target height)."),
                io.Latent.Input("latent", optional=True,
                                tooltip="Optional: the latent you sample, to check its batch size before encoding."),
            ],
            outputs=[io.Model.Output(), io.Conditioning.Output(display_name="positive"),
                     io.Conditioning.Output(display_name="negative"), io.Int.Output(display_name="batch_size"),
                     io.String.Output(display_name="report")],
        )

    @classmethod
    def validate_inputs(cls, **values):
        problem = declared_inputs_problem(cls, values, skip=("prompts", "negative"))
        if problem is not True:
            return problem
        prompts, negative = values.get("prompts"), values.get("negative")
        try:
            lines = prompt_lines(prompts, "prompts") if prompts is not None else None
            if lines is not None and negative is not None:
                negative_lines(negative, len(lines))
        except BatchPromptError as e:
            return str(e)
        for i, line in enumerate(lines or ()):
            problem = prompt_problem(line, name=f"prompts line {i + 1}", steps=values.get("steps") or 20)
            if problem is not True:
                return problem
        for i, line in enumerate((negative or "").splitlines()):
            problem = prompt_problem(line, name=f"negative line {i + 1}", negative=True)
            if problem is not True:
                return problem
        return True

    @classmethod
    def execute(cls, model, clip, prompts, negative, emphasis, clip_skip, steps, mode, comma_padding_backtrack=20,
                width=1024, height=1024, latent=None) -> io.NodeOutput:
        try:
            lines = prompt_lines(prompts, "prompts")
            negatives = negative_lines(negative, len(lines))
        except BatchPromptError as e:
            raise ValueError(f"Batch prompts (A1111): {e}") from None
        labels = [_label(i, line) for i, line in enumerate(lines)]
        if latent is not None:
            batch = int(latent["samples"].shape[0])
            if batch != len(lines):
                extra = (f"{labels[batch]} and later have no image" if len(lines) > batch
                         else f"images {len(lines) + 1}-{batch} have no line")
                raise ValueError(f"Batch prompts (A1111): {len(lines)} line(s) but the latent batch is {batch}: "
                                 f"{extra}. Set the latent batch_size to {len(lines)}.")
        opts = {"emphasis": emphasis, "comma_padding_backtrack": comma_padding_backtrack, "clip_skip": clip_skip,
                "steps": steps, "width": width, "height": height}
        targets = hb.model_targets(model, clip)
        positives, negs, per_line, report = [], [], [], []
        owner, base_sig = cond_cache.clip_identity(clip)
        shared = (base_sig, tuple(sorted(opts.items())), _embeddings_signature())
        for i, line in enumerate(lines):
            line_clip, uses, te_sig = _line_loras(model, clip, line, labels[i], mode, targets)
            try:
                # encoded once per (base CLIP, line's text-encoder LoRAs, text): cached across jobs (cond_cache)
                positives.append(cond_cache.SHARED.get(owner, (shared, te_sig, line, False),
                                                       lambda: _encode(line_clip(), line, False, opts)))
                negs.append(cond_cache.SHARED.get(owner, (shared, te_sig, negatives[i], True),
                                                  lambda: _encode(line_clip(), negatives[i], True, opts)))
            except ValueError as e:
                raise ValueError(f"Batch prompts (A1111): {labels[i]}: {e}") from None
            per_line.append(uses)
            report.append(f"{labels[i]}: " + (", ".join(u[4] for u in uses) if uses else "no LoRA"))
        try:
            positive = batch_conditioning(positives, labels)
            negative_cond = batch_conditioning(negs, [f"negative of {lb}" for lb in labels])
        except BatchPromptError as e:
            raise ValueError(f"Batch prompts (A1111): {e}") from None
        out_model = model.clone()
        if any(per_line):
            hb.install_lines(out_model, [[u[:4] for u in uses] for uses in per_line], labels, mode,
                             "Batch prompts (A1111)")
        return io.NodeOutput(out_model, positive, negative_cond, len(lines), "\n".join(report))


NODES = [ForgelineBatchPrompts]
