"""A1111 emphasis modes applied to encoder output (A1111 ``modules/sd_emphasis.py``).

For one 77-token chunk of a batch, ``z`` is ``[B, 77, C]`` and ``w`` its multipliers ``[B, 77]``:

    Original:  m0 = mean(z);  z = z · w[..., None];  z = z · (m0 / mean(z))
    No norm:   z = z · w[..., None]
    Ignore:    z unchanged (the prompt is still parsed, so brackets vanish from the text)
    None:      z unchanged, and the prompt is not parsed at all (brackets are tokenized as text)

``mean`` is over the whole chunk batch: all B texts (every schedule variant of a prompt plus empty padding chunks),
all 77 positions including BOS/EOS/padding, all C channels. It is taken per 77-token chunk, never over a whole
multi-chunk prompt. Multipliers become a float32 tensor first (A1111 ``torch.asarray`` of Python floats), so
1.1 enters as float32(1.1); torch's type promotion then decides the result dtype. All-zero weights give inf/nan, as
in A1111. The two means are taken in float64 (A1111: the tensor's dtype): the result differs from A1111's by the
float32 rounding of a mean (~1e-7 relative), and an output whose mean is ~0 in float32 (a layer-normed stand-in
encoder) does not turn into 0/0.
"""
import torch

EMPHASIS_MODES = ("Original", "No norm", "Ignore", "None")
CLIP_WINDOW = 77


def check_emphasis(emphasis):
    """Raise a clear error for an unknown emphasis mode name."""
    if emphasis not in EMPHASIS_MODES:
        raise ValueError(f"unknown emphasis mode {emphasis!r}; use one of {', '.join(map(repr, EMPHASIS_MODES))} "
                         "(A1111 Settings > Stable Diffusion > Emphasis mode)")
    return emphasis


def emphasis_parses_brackets(emphasis):
    """False only for ``"None"``, where A1111 tokenizes the prompt without the attention parse."""
    return check_emphasis(emphasis) != "None"


def multipliers_tensor(multipliers, device=None):
    """A1111's ``torch.asarray(batch_multipliers)``: a float32 tensor (Python floats → default dtype)."""
    if isinstance(multipliers, torch.Tensor):
        return multipliers.to(device=device, dtype=torch.float32)
    return torch.tensor(multipliers, dtype=torch.float32, device=device)


def emphasize_chunk(z, weights, emphasis="Original"):
    """One chunk batch ``[B, 77, C]``: A1111's ``EmphasisOriginal`` / ``EmphasisOriginalNoNorm`` / no-op."""
    check_emphasis(emphasis)
    if emphasis in ("Ignore", "None"):
        return z
    weights = multipliers_tensor(weights, z.device)
    original_mean = z.double().mean()   # A1111 takes the means in the tensor's dtype; float64 here (see docstring)
    z = z * weights.reshape(weights.shape + (1,)).expand(z.shape)
    if emphasis == "No norm":
        return z
    return z * (original_mean / z.double().mean()).to(z.dtype)
