"""A1111 ImageRNG and ComfyUI default noise vs A1111 ``modules/rng.py`` and ComfyUI ``comfy/sample.py``
(seed-42 values, ENSD, per-image seeds, subseeds)."""
import math

import pytest
import torch

from forgeline.samplers import A1111ImageRNG, a1111_seeds, a1111_slerp

CPU_SEED42 = [1.92692, 1.48728, 0.90072, -2.10552, 0.67842, -1.23454]   # torch.randn, CPU generator, seed 42
NV_SEED42 = [0.19402, 2.16137, -0.17205, 0.84906, -1.92440, 0.65299]    # A1111 rng_philox / CUDA torch.randn, seed 42








def test_a1111_seeds_per_image_and_variation():
    assert a1111_seeds(100, 3) == ([100, 101, 102], None)
    assert a1111_seeds(100, 3, subseed=7, subseed_strength=0.3) == ([100, 100, 100], [7, 8, 9])


@pytest.mark.parametrize("source, ref", [("CPU", CPU_SEED42), ("NV", NV_SEED42), ("GPU", NV_SEED42)])
def test_a1111_first_draw_per_source(source, ref):
    noise = A1111ImageRNG((4, 8, 8), [42], source=source).next()
    assert noise.shape == (1, 4, 8, 8)
    assert noise.flatten()[:6].tolist() == pytest.approx(ref, abs=1e-5)


def test_a1111_batch_uses_one_generator_per_image():
    noise = A1111ImageRNG((4, 8, 8), a1111_seeds(42, 2)[0], source="CPU").next()
    assert torch.equal(noise[1], torch.randn((4, 8, 8), generator=torch.Generator().manual_seed(43)))


def test_a1111_ensd_zero_continues_the_stream_and_nonzero_reseeds():
    g = torch.Generator().manual_seed(42)
    first, second = torch.randn((4, 8, 8), generator=g), torch.randn((4, 8, 8), generator=g)
    rng = A1111ImageRNG((4, 8, 8), [42], source="CPU")
    assert torch.equal(rng.next()[0], first) and torch.equal(rng.next()[0], second)
    rng = A1111ImageRNG((4, 8, 8), [42], source="CPU", eta_noise_seed_delta=31337)
    rng.next()
    ensd_first = torch.randn((4, 8, 8), generator=torch.Generator().manual_seed(42 + 31337))
    assert torch.equal(rng.noise_sampler()(1.0, 0.5)[0], ensd_first)


def test_a1111_nv_ancestral_stream_advances_offset():
    rng = A1111ImageRNG((4, 8, 8), [42], source="NV")
    first = rng.next()
    second = rng.next()
    assert not torch.allclose(first, second)
    assert rng.generators[0].offset == 8


def slerp64(val, low, high):
    """A1111 slerp re-derived in float64, column by column (norm over dim 1 of a (C,H,W) tensor)."""
    low, high = low.double(), high.double()
    out = torch.empty_like(low)
    for c in range(low.shape[0]):
        for w in range(low.shape[2]):
            a, b = low[c, :, w], high[c, :, w]
            cos = float((a / a.norm() * (b / b.norm())).sum())
            om = math.acos(cos)
            out[c, :, w] = math.sin((1 - val) * om) / math.sin(om) * a + math.sin(val * om) / math.sin(om) * b
    return out


def test_a1111_subseed_variation_slerp():
    rng = A1111ImageRNG((4, 8, 8), [42], source="CPU", subseeds=[7], subseed_strength=0.3)
    got = rng.next()[0]
    noise = torch.randn((4, 8, 8), generator=torch.Generator().manual_seed(42))
    sub = torch.randn((4, 8, 8), generator=torch.Generator().manual_seed(7))
    assert (got.double() - slerp64(0.3, noise, sub)).abs().max() < 1e-5
    full = A1111ImageRNG((4, 8, 8), [42], source="CPU", subseeds=[7], subseed_strength=1.0).next()[0]
    assert torch.allclose(full, sub, atol=1e-5)


def test_a1111_slerp_parallel_fallback_quirk():
    x = torch.randn((2, 3, 4), generator=torch.Generator().manual_seed(1))
    assert torch.allclose(a1111_slerp(0.25, x, x * 2), x * 0.25 + 2 * x * 0.75)  # weights as A1111 writes them




@pytest.mark.parametrize("kwargs, words", [({"shape": (4, 8), "seeds": [1]}, "C, H, W"),
                                           ({"shape": (4, 8, 8), "seeds": []}, "seeds"),
                                           ({"shape": (4, 8, 8), "seeds": [1], "source": "TPU"}, "source")])
def test_a1111_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        A1111ImageRNG(**kwargs)


# "Resize seed from" (A1111 modules/rng.py ImageRNG.first; processing.py create_random_tensors before 1.6): the
# seed's noise at (C, h // 8, w // 8) from a fresh generator, pasted centred into the full-size noise that the
# image's generator draws next. The slices below are worked out by hand from that rule for an 8x8 latent (64 px):
# from 32 px (4x4): offset (8 - 4) // 2 = 2, so rows/cols 2..5 get the small noise;
# from 40x24 px (5 wide, 3 high): x offset 3 // 2 = 1 (cols 1..5), y offset 5 // 2 = 2 (rows 2..4);
# from 96 px (12x12): offset (8 - 12) // 2 = -2, so the whole 8x8 is the small noise's rows/cols 2..9;
# from 88 px (11x11): offset -3 // 2 = -2, width 11 - 4 = 7: rows/cols 0..6 get its rows/cols 2..8, row/col 7 stays.
def _cpu(seed, shape):
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("from_w, from_h, small, target, source", [
    (32, 32, (4, 4), (slice(2, 6), slice(2, 6)), (slice(0, 4), slice(0, 4))),
    (40, 24, (3, 5), (slice(2, 5), slice(1, 6)), (slice(0, 3), slice(0, 5))),
    (96, 96, (12, 12), (slice(0, 8), slice(0, 8)), (slice(2, 10), slice(2, 10))),
    (88, 88, (11, 11), (slice(0, 7), slice(0, 7)), (slice(2, 9), slice(2, 9))),
])
def test_a1111_resize_seed_from_pastes_centred(from_w, from_h, small, target, source):
    rng = A1111ImageRNG((4, 8, 8), [42], source="CPU", seed_resize_from_w=from_w, seed_resize_from_h=from_h)
    got = rng.next()[0]
    want = _cpu(42, (4, 8, 8)).clone()
    want[:, target[0], target[1]] = _cpu(42, (4, *small))[:, source[0], source[1]]
    assert torch.equal(got, want)
    # the ancestral stream continues after the full-size draw of the image's own generator
    g = torch.Generator().manual_seed(42)
    torch.randn((4, 8, 8), generator=g)
    assert torch.equal(rng.next()[0], torch.randn((4, 8, 8), generator=g))


def test_a1111_resize_seed_from_off_unless_both_set_and_equal_size_is_plain():
    plain = A1111ImageRNG((4, 8, 8), [42], source="CPU").next()
    for w, h in ((0, 32), (32, 0), (-1, -1), (64, 64)):
        rng = A1111ImageRNG((4, 8, 8), [42], source="CPU", seed_resize_from_w=w, seed_resize_from_h=h)
        assert torch.equal(rng.next(), plain)


def test_a1111_resize_seed_from_with_variation_and_nv_source():
    # the subseed's noise is drawn at the small size too and slerped there, then pasted; NV draws from fresh Philox
    # generators like the CPU ones (A1111 randn(seed, noise_shape) re-seeds its global nv_rng)
    from forgeline.samplers import PhiloxGenerator
    rng = A1111ImageRNG((4, 8, 8), [42], source="NV", subseeds=[7], subseed_strength=0.3, seed_resize_from_w=32,
                        seed_resize_from_h=32)
    got = rng.next()[0]
    small = slerp64(0.3, PhiloxGenerator(42).randn((4, 4, 4)), PhiloxGenerator(7).randn((4, 4, 4)))
    want = PhiloxGenerator(42).randn((4, 8, 8)).double()
    want[:, 2:6, 2:6] = small
    assert (got.double() - want).abs().max() < 1e-5


def test_a1111_resize_seed_from_under_one_latent_pixel_is_refused():
    with pytest.raises(ValueError, match="at least 8x8"):
        A1111ImageRNG((4, 8, 8), [42], source="CPU", seed_resize_from_w=4, seed_resize_from_h=32).next()
