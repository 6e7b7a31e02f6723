"""The limit values (documented in ``limits/__init__.py``). Pure constants: imported by core modules that enforce
them (``lora.safe_load``, ``lora.loractl``, ``lora.block_weights``) without pulling in the prompt parsers."""
MAX_STEPS = 10_000                 # ComfyUI nodes.py KSampler "steps" max
MAX_RESOLUTION = 16_384            # ComfyUI nodes.py MAX_RESOLUTION
MAX_BATCH = 4096                   # ComfyUI EmptyLatentImage batch_size max
MAX_LATENT_PIXELS = 2 ** 30        # width * height * batch
MAX_PROMPT_CHARS = 20_000
MAX_CHUNKS = 64
MAX_BREAKS = MAX_CHUNKS - 1
MAX_AND_PARTS = 32
MAX_SCHEDULE_VARIANTS = 256
MAX_ENCODE_CHUNKS = 2048
MAX_LORA_TAGS = 64
MAX_STRENGTH = 100.0               # ComfyUI LoraLoader strength range
MAX_SCHEDULE_POSITION = 100_000.0
MAX_PROMPT_WEIGHT = 100.0
MAX_SAFETENSORS_HEADER = 100_000_000  # safetensors' own MAX_HEADER_SIZE
MAX_HEADER_DEPTH = 64
MAX_LORA_TENSORS = 50_000
