"""Number, step and size checks with messages that name the input and say what to write instead.

``check_*`` functions raise :class:`LimitError` (a ``ValueError``); :func:`check_inputs` returns
``True`` or the message, which is what ComfyUI's ``validate_inputs`` expects (ComfyUI then answers the
``/prompt`` request with HTTP 400 naming the node and input, before anything runs).

ComfyUI's own widget check (``execution.validate_inputs``) compares ``val < min`` / ``val > max``: NaN passes both,
so a NaN float widget reaches the node unless the node checks it; and an input that a node's ``validate_inputs``
takes as an argument skips ComfyUI's min/max check entirely. Hence :func:`check_inputs` checks the range too.
"""
import math
import numbers

from .values import MAX_BATCH, MAX_LATENT_PIXELS, MAX_RESOLUTION, MAX_STEPS, MAX_STRENGTH


class LimitError(ValueError):
    """A value outside Forgeline's limits (``limits/__init__.py``); the message names it and the fix."""


def _short(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def check_finite(name, value, bound=None, hint="write a plain number such as 1.0"):
    """``float(value)``, refusing NaN, inf and, with ``bound``, ``abs(value) > bound``."""
    if isinstance(value, bool):
        raise LimitError(f"{name}={value!r} is a boolean, not a number; {hint}")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise LimitError(f"{name}={_short(value)} is not a number; {hint}") from None
    if not math.isfinite(number):
        raise LimitError(f"{name}={_short(value)} is not a finite number (NaN/inf would give a NaN or black image); "
                         f"{hint}")
    if bound is not None and abs(number) > bound:
        raise LimitError(f"{name}={_short(value)} is beyond the limit of +/-{bound:g}; {hint}")
    return number


def check_number(name, value, lo, hi, integer=False, hint=None):
    """A finite number in ``[lo, hi]`` (a whole number when ``integer``); returns it as int/float."""
    hint = hint or f"use a value from {lo} to {hi}"
    if isinstance(value, bool) or value is None:
        raise LimitError(f"{name}={value!r} is not a number; {hint}")
    if integer:
        if isinstance(value, numbers.Integral):
            number = int(value)
        else:
            number = check_finite(name, value, hint=hint)
            if number != int(number):
                raise LimitError(f"{name}={_short(value)} is not a whole number; {hint}")
            number = int(number)
    else:
        number = check_finite(name, value, hint=hint)
    if number < lo:
        raise LimitError(f"{name}={_short(value)} is below the minimum of {lo}; {hint}")
    if number > hi:
        raise LimitError(f"{name}={_short(value)} is above the limit of {hi}; {hint}")
    return number


def check_steps(name, value, lo=1, hi=MAX_STEPS):
    """Sampling steps: a whole number from ``lo`` to :data:`MAX_STEPS` (ComfyUI's KSampler maximum)."""
    return check_number(name, value, lo, hi, integer=True,
                        hint=f"use {lo} to {hi} steps (Forgeline's limit, ComfyUI's KSampler maximum)")


def check_batch_size(name, value):
    return check_number(name, value, 1, MAX_BATCH, integer=True, hint=f"use a batch of 1 to {MAX_BATCH}")


def check_latent_size(width, height, batch_size=1, lo=16, names=("width", "height", "batch_size")):
    """Image size and batch of a latent; the product is bounded by :data:`MAX_LATENT_PIXELS`."""
    w = check_number(names[0], width, lo, MAX_RESOLUTION, integer=True,
                     hint=f"use {lo} to {MAX_RESOLUTION} pixels (ComfyUI's MAX_RESOLUTION)")
    h = check_number(names[1], height, lo, MAX_RESOLUTION, integer=True,
                     hint=f"use {lo} to {MAX_RESOLUTION} pixels (ComfyUI's MAX_RESOLUTION)")
    b = check_batch_size(names[2], batch_size)
    if w * h * b > MAX_LATENT_PIXELS:
        raise LimitError(f"{names[0]} x {names[1]} x {names[2]} = {w} x {h} x {b} = {w * h * b} pixels is above the "
                         f"limit of {MAX_LATENT_PIXELS} (2^30) per latent; lower the size or the batch, or queue "
                         "several batches")
    return w, h, b


def check_inputs(**specs):
    """``True`` or the first problem among ``name=(value, lo, hi)`` specs (``value`` None = linked, skipped).

    Integer inputs are those whose bounds are both ints. Example::

        check_inputs(steps=(steps, 1, MAX_STEPS), cfg=(cfg, 0.0, 100.0))
    """
    for name, (value, lo, hi) in specs.items():
        if value is None:
            continue
        integer = isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool)
        try:
            if integer and name.endswith("steps"):
                check_steps(name, value, lo, hi)
            else:
                check_number(name, value, lo, hi, integer=integer)
        except ValueError as e:
            return str(e)
    return True


def latent_size_problem(width=None, height=None, batch_size=None, lo=16):
    """``True`` or the message of :func:`check_latent_size` (inputs that are None, i.e. linked, are skipped)."""
    try:
        if width is not None and height is not None and batch_size is not None:
            check_latent_size(width, height, batch_size, lo=lo)
            return True
        for name, value in (("width", width), ("height", height)):
            if value is not None:
                check_number(name, value, lo, MAX_RESOLUTION, integer=True,
                             hint=f"use {lo} to {MAX_RESOLUTION} pixels (ComfyUI's MAX_RESOLUTION)")
        if batch_size is not None:
            check_batch_size("batch_size", batch_size)
    except ValueError as e:
        return str(e)
    return True


def check_lora_strengths(name, strength_model, strength_clip):
    """LoRA strengths as numbers: finite and within +/- :data:`MAX_STRENGTH` (ComfyUI ``LoraLoader``'s range)."""
    for what, value in (("strength_model", strength_model), ("strength_clip", strength_clip)):
        check_finite(f"LoRA {name!r}: {what}", value, MAX_STRENGTH,
                     hint=f"use a strength from -{MAX_STRENGTH:g} to {MAX_STRENGTH:g}, e.g. 0.8")


def choice_problem(name, value, options):
    """``True`` or a message when ``value`` is not one of ``options`` (``None`` = linked, skipped).

    ComfyUI 0.3.75 checks a combo value against its list only for V1 nodes (``isinstance(input_type, list)`` in
    ``execution.validate_inputs``); a V3 node's combo reaches ``execute`` unchecked unless the node checks it."""
    if value is None:
        return True
    options = list(options)
    if isinstance(value, str) and value in options:
        return True
    shown = ", ".join(options[:12]) + (f" ... ({len(options)} in all)" if len(options) > 12 else "")
    return f"{name}={_short(value)} is not one of the choices; use one of: {shown}"


def output_prefix_problem(prefix, name="filename_prefix"):
    """``True`` or why ``prefix`` would leave ComfyUI's output folder: ``..`` parts, an absolute path or a drive, or
    more than 255 characters (ComfyUI ``folder_paths.get_save_image_path`` refuses the first two only when saving,
    with a message that does not name the input)."""
    if prefix is None:
        return True
    text = str(prefix)
    parts = text.replace("\\", "/").split("/")
    if ".." in parts or text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":"):
        return (f"{name}={_short(text)} must stay inside the output folder (no '..', no leading '/' or drive); "
                "write a relative name such as 'forgeline/cat'")
    if len(text) > 255:
        return f"{name}: {len(text)} characters, more than 255; write a shorter name"
    return True
