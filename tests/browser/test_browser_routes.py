"""The pack's editor routes on the browser tier's server (HTTP only).

Sigma reference: Karras et al. 2022 eq. (5), σ_i = (σmax^(1/ρ) + i/(n−1)·(σmin^(1/ρ) − σmax^(1/ρ)))^ρ, ρ = 7, plus a
final 0, with SD1.x's σmin/σmax from the scaled-linear β schedule (β 0.00085…0.012, 1000 steps) — re-derived
here in float64. Denoise < 1 follows ComfyUI KSampler.set_steps: the last steps+1 of int(steps/denoise) sigmas.
"""
import math

import pytest
import requests


def sd_sigma_range():
    b0, b1 = 0.00085 ** 0.5, 0.012 ** 0.5
    betas = [(b0 + (b1 - b0) * i / 999) ** 2 for i in range(1000)]
    prod, sigmas = 1.0, []
    for beta in betas:
        prod *= 1 - beta
        sigmas.append(math.sqrt((1 - prod) / prod))
    return sigmas[0], sigmas[-1]


def karras(n, smin, smax, rho=7.0):
    a, b = smax ** (1 / rho), smin ** (1 / rho)
    return [(a + i / (n - 1) * (b - a)) ** rho for i in range(n)] + [0.0]


def post(server, route, body):
    return requests.post(f"{server.url}{route}", json=body, timeout=60)


def test_sigmas_route_is_karras(browser_server):
    smin, smax = sd_sigma_range()
    got = post(browser_server, "/forgeline/sigmas", {"scheduler": "karras", "steps": 10}).json()["sigmas"]
    assert got == pytest.approx(karras(10, smin, smax), rel=2e-6, abs=1e-7)


def test_sigmas_route_denoise_takes_the_tail(browser_server):
    smin, smax = sd_sigma_range()
    got = post(browser_server, "/api/forgeline/sigmas", {"scheduler": "karras", "steps": 4, "denoise": 0.5}).json()
    assert got["sigmas"] == pytest.approx(karras(8, smin, smax)[-5:], rel=2e-6, abs=1e-7)


@pytest.mark.parametrize("route, body, match", [
    ("/forgeline/sigmas", {"scheduler": "nope", "steps": 4}, "unknown scheduler 'nope'"),
    ("/forgeline/sigmas", {"scheduler": "karras", "steps": 4, "denoise": 0}, "denoise"),
    ("/forgeline/parse", {"steps": 4}, "'text'"),
    ("/forgeline/lora_curve", {"schedule": "x@y", "steps": 4}, "weight@position"),
])
def test_routes_answer_400_with_a_message(browser_server, route, body, match):
    res = post(browser_server, route, body)
    assert res.status_code == 400 and match in res.json()["error"]


def test_parse_route_warns_about_unknown_loras(browser_server):
    diags = post(browser_server, "/forgeline/parse", {"text": "a <lora:forgeline_sd15_kohya:1> <lora:nope:1>"}).json()
    assert [d["message"].split("'")[1] for d in diags["diagnostics"]] == ["nope"]
