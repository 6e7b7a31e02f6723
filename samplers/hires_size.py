"""A1111 HiRes-fix target size (``StableDiffusionProcessingTxt2Img.calculate_target_resolution``, A1111 1.10).

With a factor (``hr_resize_x == hr_resize_y == 0``)::

    upscale_to = (int(width · hr_scale), int(height · hr_scale))

With "Resize width/height to" (either may be 0 = keep the aspect ratio)::

    only x:  (rx, rx · height // width)          only y:  (ry · width // height, ry)
    both:    cover the box keeping the aspect ratio —
             width/height < rx/ry → (rx, rx · height // width)  else  (ry · width // height, ry)
             truncate = ((upscale_to_x − rx) // 8, (upscale_to_y − ry) // 8) latent columns/rows

``sample_hr_pass`` interpolates the latent to ``(upscale_to_y // 8, upscale_to_x // 8)`` (so the size is floored to
a multiple of 8) and then crops ``truncate // 2`` latent rows/columns before and ``(truncate + 1) // 2`` after.
"""
from dataclasses import dataclass

OPT_F = 8  # A1111 ``opt_f``: pixels per latent cell


@dataclass(frozen=True)
class HiresSize:
    upscale_to_x: int
    upscale_to_y: int
    truncate_x: int = 0
    truncate_y: int = 0

    @property
    def latent_size(self):
        """(latent width, latent height) the first-pass latent is interpolated to, before the crop."""
        return self.upscale_to_x // OPT_F, self.upscale_to_y // OPT_F

    @property
    def crop(self):
        """(left, top, right, bottom) latent cells removed, as A1111's slice does."""
        return (self.truncate_x // 2, self.truncate_y // 2, (self.truncate_x + 1) // 2, (self.truncate_y + 1) // 2)

    @property
    def width(self):
        """Pixel width of the hires image A1111 produces."""
        return (self.upscale_to_x // OPT_F - self.truncate_x) * OPT_F

    @property
    def height(self):
        """Pixel height of the hires image A1111 produces."""
        return (self.upscale_to_y // OPT_F - self.truncate_y) * OPT_F


def hires_target_size(width, height, scale=2.0, resize_x=0, resize_y=0):
    """A1111 ``calculate_target_resolution`` for a first pass of ``width``×``height`` pixels."""
    width, height, resize_x, resize_y = (int(v) for v in (width, height, resize_x, resize_y))
    if width < 1 or height < 1:
        raise ValueError(f"first-pass size {width}x{height} must be positive")
    if resize_x < 0 or resize_y < 0:
        raise ValueError(f"resize {resize_x}x{resize_y}: use 0 (keep aspect / use the factor) or a positive size")
    if resize_x == 0 and resize_y == 0:
        scale = float(scale)
        if not scale > 0:
            raise ValueError(f"upscale_by={scale} must be greater than 0")
        return HiresSize(int(width * scale), int(height * scale))
    if resize_y == 0:
        return HiresSize(resize_x, resize_x * height // width)
    if resize_x == 0:
        return HiresSize(resize_y * width // height, resize_y)
    if width / height < resize_x / resize_y:
        to_x, to_y = resize_x, resize_x * height // width
    else:
        to_x, to_y = resize_y * width // height, resize_y
    return HiresSize(to_x, to_y, (to_x - resize_x) // OPT_F, (to_y - resize_y) // OPT_F)
