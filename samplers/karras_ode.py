"""Karras et al. (2022) probability-flow ODE in σ parameterisation: ``dx/dσ = (x − D(x; σ)) / σ`` (k-diffusion
``to_d``, crowsonkb/k-diffusion ``k_diffusion/sampling.py``)."""


def append_dims(x, target_dims):
    """Append trailing singleton dimensions so ``x`` broadcasts against a ``target_dims``-d tensor."""
    extra = target_dims - x.ndim
    if extra < 0:
        raise ValueError(f"append_dims: input has {x.ndim} dims, more than the target {target_dims}")
    return x[(...,) + (None,) * extra]


def to_d(x, sigma, denoised):
    """Karras ODE derivative ``d = (x − D) / σ`` from a denoiser output."""
    return (x - denoised) / append_dims(sigma, x.ndim)
