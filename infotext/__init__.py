"""A1111 infotext, read and written with A1111's rules (AUTOMATIC1111/stable-diffusion-webui v1.10.1).

Pure Python: ``parse`` (``parse_generation_parameters``), ``create`` (``create_infotext``), ``names`` (sampler and
scheduler labels), ``hashes`` (AutoV2, LoRA tensor-data hash, cached), ``png`` (PNG text chunks, EXIF UserComment),
``graph`` (settings of an executed ComfyUI prompt) and ``reproduce`` (parameters -> Forgeline API graph).
No ComfyUI import.
"""
from .create import create_infotext, quote
from .parse import parse_generation_parameters, unquote

__all__ = ["create_infotext", "parse_generation_parameters", "quote", "unquote"]
