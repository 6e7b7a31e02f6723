"""Philox4x32-10 + Box–Muller (CUDA torch.randn) vs Random123 known answers, A1111 ``rng_philox`` seed-42 values, and a
scalar pure-Python re-derivation of the curand counter layout written here."""
import math

import numpy as np
import pytest

from forgeline.samplers import PhiloxGenerator, philox4x32_10

# Random123 kat_vectors for philox4x32 10 (Salmon et al. 2011)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(v) for v in philox4x32_10(counter, key)) == expected


def scalar_philox(c, k):
    c, k = list(c), list(k)
    for r in range(10):
        if r:
            k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
    return c


def scalar_normals(seed, block_pos, thread):
    """curand_normal4 of one thread's Philox block: (sin, cos) of words (0,1), then of words (2,3)."""
    w = scalar_philox([block_pos & 0xFFFFFFFF, block_pos >> 32, thread, 0], [seed & 0xFFFFFFFF, seed >> 32])
    inv = float(np.float32(2.3283064e-10))
    inv2pi = float(np.float32(2.3283064e-10 * 6.2831855))
    out = []
    for a, b in ((w[0], w[1]), (w[2], w[3])):
        r = math.sqrt(-2.0 * math.log(a * inv + inv / 2))
        v = b * inv2pi + inv2pi / 2
        out += [r * math.sin(v), r * math.cos(v)]
    return [float(np.float32(v)) for v in out]


def test_seed42_first_values_match_cuda_and_a1111_nv():
    # A1111 modules/rng_philox.py first draw for seed 42 == torch.randn on CUDA
    got = PhiloxGenerator(42).randn((4, 8, 8)).flatten()[:6].tolist()
    assert got == pytest.approx([0.19402, 2.16137, -0.17205, 0.84906, -1.92440, 0.65299], abs=1e-5)


def test_successive_draws_continue_the_stream():
    g = PhiloxGenerator(1234)
    first = g.randn((3, 5))
    assert g.offset == 4
    second = g.randn((2, 3))
    assert g.offset == 8
    for e in range(15):
        assert float(first.flatten()[e]) == pytest.approx(scalar_normals(1234, 0, e)[0], abs=1e-6)
    for e in range(6):
        assert float(second.flatten()[e]) == pytest.approx(scalar_normals(1234, 1, e)[0], abs=1e-6)


def test_bounded_threads_use_the_grid_stride_layout():
    # 600 normals on a 256-thread device: element idx + 256·k takes normal k of thread idx's block; offset += 4
    g = PhiloxGenerator(7, max_threads=256)
    got = g.randn(600).tolist()
    for e in (0, 1, 255, 256, 300, 511, 512, 599):
        assert got[e] == pytest.approx(scalar_normals(7, 0, e % 256)[e // 256], abs=1e-6)
    assert g.offset == 4
    g.randn(2048)  # 2048 normals / (4·256) → 2 Philox blocks per thread
    assert g.offset == 12


def test_negative_seed_wraps_like_torch():
    assert PhiloxGenerator(-1).seed == 2 ** 64 - 1


@pytest.mark.parametrize("kwargs, words", [({"seed": 1.5}, "whole"), ({"seed": 2 ** 64}, "range"),
                                           ({"seed": 1, "max_threads": 10}, "max_threads")])
def test_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        PhiloxGenerator(**kwargs)
    with pytest.raises(ValueError, match="negative"):
        PhiloxGenerator(1).randn((2, -1))
