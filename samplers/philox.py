"""CUDA ``torch.randn`` reproduced on any device: Philox4x32-10 (Salmon et al. 2011) + Box–Muller, as curand and
PyTorch's CUDA normal kernel use it; A1111's "NV" RNG (``modules/rng_philox.py``) is the special case below.

Philox4x32-10: 10 rounds of ``(c0,c1,c2,c3) ← (hi(M1·c2) ⊕ c1 ⊕ k0, lo(M1·c2), hi(M0·c0) ⊕ c3 ⊕ k1, lo(M0·c0))``
with M0 = 0xD2511F53, M1 = 0xCD9E8D57, and the key bumped by (0x9E3779B9, 0xBB67AE85) between rounds; the key
is the 64-bit seed split into (low, high) 32-bit words.

PyTorch's CUDA ``normal_`` launches T = 256·min(ceil(n/256), max_blocks) threads; thread ``idx`` calls
``curand_init(seed, subsequence=idx, offset)``, so its j-th Philox block has counter
``(offset/4 + j, 0, idx, 0)``. Each block gives 4 normals, ``curand_normal4``: Box–Muller of (c0, c1) → (sin, cos)
and of (c2, c3) → (sin, cos), with u = c·2⁻³² + 2⁻³³ and v = c·2π·2⁻³² + π·2⁻³². Element ``idx + T·(4j + k)``
takes normal k of block j. Every draw advances the generator's offset by ``4·ceil(n / (4T))`` (``philox_offset``),
which is 4 — one counter step — whenever n ≤ T.

A1111 "NV" assumes n ≤ T (one normal per thread: ``max_threads=None`` here): element e = sin of block
``(offset/4, 0, e, 0)``, offset += 4 per draw; that equals CUDA on any GPU with at least n/2048 SMs (the usual
case for SD latents). Box–Muller is evaluated in float64 from A1111's float32 constants and rounded to float32,
as A1111 does; real GPUs use float32 ``sinf``/``logf`` and may differ in the last bit.
First values for seed 42: 0.19402, 2.16137, -0.17205, 0.84906, -1.92440, 0.65299 (A1111 ``modules/rng_philox.py``
``Generator(42).randn``; the same as ``torch.randn`` on CUDA).
"""
import math

import numpy as np
import torch

PHILOX_M = (0xD2511F53, 0xCD9E8D57)
PHILOX_W = (0x9E3779B9, 0xBB67AE85)
TWO_POW32_INV = float(np.float32(2.3283064e-10))
TWO_POW32_INV_2PI = float(np.float32(2.3283064e-10 * 6.2831855))
_MASK32 = 0xFFFFFFFF


def philox4x32_10(counter, key):
    """Philox4x32-10 block function on uint32 words: ``counter`` = 4 arrays (or ints), ``key`` = 2 arrays (or ints)."""
    c0, c1, c2, c3 = (np.asarray(c, dtype=np.uint64) & _MASK32 for c in counter)
    k0, k1 = (np.asarray(k, dtype=np.uint64) & _MASK32 for k in key)
    m0, m1 = np.uint64(PHILOX_M[0]), np.uint64(PHILOX_M[1])
    w0, w1 = np.uint64(PHILOX_W[0]), np.uint64(PHILOX_W[1])
    mask, shift = np.uint64(_MASK32), np.uint64(32)
    for round_index in range(10):
        if round_index:
            k0 = (k0 + w0) & mask
            k1 = (k1 + w1) & mask
        p0 = c0 * m0
        p1 = c2 * m1
        c0, c1, c2, c3 = (p1 >> shift) ^ c1 ^ k0, p1 & mask, (p0 >> shift) ^ c3 ^ k1, p0 & mask
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def box_muller(x, y):
    """curand ``_curand_box_muller`` on two uint32 words: ``(r·sin v, r·cos v)``, r = √(−2 ln u)."""
    u = x.astype(np.float64) * TWO_POW32_INV + TWO_POW32_INV / 2
    v = y.astype(np.float64) * TWO_POW32_INV_2PI + TWO_POW32_INV_2PI / 2
    r = np.sqrt(-2.0 * np.log(u))
    return r * np.sin(v), r * np.cos(v)


class PhiloxGenerator:
    """Seeded stream of CUDA-equivalent normals: ``PhiloxGenerator(seed).randn(shape)`` ≙ CUDA ``torch.randn``.

    ``max_threads`` = the GPU's resident-thread capacity (SM count × max threads per SM); ``None`` = unlimited,
    i.e. A1111's "NV" emulation. ``offset`` is PyTorch's ``philox_offset_per_thread`` (starts at 0 after seeding).
    """

    def __init__(self, seed, max_threads=None):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"PhiloxGenerator: seed={seed!r} must be a whole number")
        seed = int(seed)
        if not -2 ** 63 <= seed < 2 ** 64:
            raise ValueError(f"PhiloxGenerator: seed={seed} is outside torch's seed range [-2**63, 2**64)")
        if max_threads is not None and (isinstance(max_threads, bool) or int(max_threads) < 256):
            raise ValueError(f"PhiloxGenerator: max_threads={max_threads!r} must be None or a thread count >= 256 "
                             "(SM count × max threads per SM, e.g. 82 × 1536 for an RTX 3090)")
        self.seed = seed % 2 ** 64  # torch maps negative seeds two's-complement style
        self.max_threads = None if max_threads is None else int(max_threads)
        self.offset = 0

    def randn(self, shape, device="cpu", dtype=torch.float32):
        """Next ``shape`` normals of the stream (float32 values), advancing ``offset`` as PyTorch's CUDA kernel does."""
        shape = _check_shape(shape)
        n = math.prod(shape)
        if n == 0:
            return torch.zeros(shape, device=device, dtype=dtype)
        blocks = math.ceil(n / 256)
        if self.max_threads is not None:
            blocks = min(blocks, self.max_threads // 256)
        threads = 256 * blocks
        calls = math.ceil(n / (4 * threads))
        element = np.arange(n, dtype=np.uint64)
        thread = element % np.uint64(threads)
        quotient = element // np.uint64(threads)
        block = quotient // np.uint64(4)
        lane = (quotient % np.uint64(4)).astype(np.int64)
        position = np.uint64(self.offset // 4) + block  # 64-bit counter position (c0 low word, c1 high word)
        c0, c1, c2, c3 = philox4x32_10(
            (position & np.uint64(_MASK32), position >> np.uint64(32), thread & np.uint64(_MASK32),
             thread >> np.uint64(32)),
            (self.seed & _MASK32, self.seed >> 32))
        sin01, cos01 = box_muller(c0, c1)
        if calls == 1 and threads >= n:
            values = sin01
        else:
            sin23, cos23 = box_muller(c2, c3)
            values = np.choose(lane, (sin01, cos01, sin23, cos23))
        self.offset += 4 * calls
        return torch.from_numpy(values.astype(np.float32).reshape(shape)).to(device=device, dtype=dtype)


def _check_shape(shape):
    if isinstance(shape, int):
        shape = (shape,)
    try:
        shape = tuple(int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"randn: shape={shape!r} must be a sequence of whole numbers") from None
    if any(s < 0 for s in shape):
        raise ValueError(f"randn: shape={shape} has a negative size")
    return shape
