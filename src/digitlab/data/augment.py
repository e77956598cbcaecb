"""Batched augmentation: one random affine warp and stroke width per image, for the whole batch at once.

Small rotations, shifts and zooms keep a digit what it is (never a mirror image or a half turn,
which would turn a 6 into a 9); so does a thicker or thinner pen. Other pictures (a shirt, a shape)
are still what they were when mirrored left to right: `flip` does that to half of them.
MNIST's strokes are all about 2-3 pixels wide: a model that never saw a fine pen misreads one (measured in
BENCHMARKS.md, "Handwriting unlike MNIST's"). It runs as tensor ops on the batch's device: no PIL.
"""

import math

import torch
import torch.nn.functional as F


class RandomAffine:
    """Callable on (B,1,H,W) float batches; reproducible from `seed`.

    The random numbers come from a generator on the CPU, so a seed gives the same warps on any device.

    Each image is turned by up to `degrees`, moved by up to `shift` of its width and height (0.05:
    1.4 of 28 pixels) and made up to `zoom` larger or smaller (0.1: 10%).

    `stroke` in [0, 1]: how far an image's strokes may move towards a pen one pixel thicker on
    each side (and half as far towards one thinner); half the images keep theirs, so the model
    still sees MNIST's own pen. 0 leaves every stroke alone.

    `flip`: half the images are mirrored left to right (never for digits).
    """

    def __init__(
        self, degrees: float = 10.0, shift: float = 0.05, zoom: float = 0.1, stroke: float = 0.0,
        seed: int = 0, flip: bool = False,
    ):  # fmt: skip
        self.degrees, self.shift, self.zoom, self.stroke, self.flip = degrees, shift, zoom, stroke, flip
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, xb: torch.Tensor) -> torch.Tensor:
        return self.warp(xb, to_device(self.draw(len(xb)), xb.device))

    def draw(self, n: int) -> torch.Tensor:
        """The random numbers of `n` images' warps and pens, (n, 6) uniform in [-1, 1), on the CPU;
        (n, 7) with `flip`, the last one saying which images are mirrored."""
        return torch.rand(n, self.numbers, generator=self.generator) * 2 - 1

    @property
    def numbers(self) -> int:
        """Random numbers drawn per image: without `flip`, as many as before it existed (the same
        warps for a seed as then)."""
        return 7 if self.flip else 6

    def warp(self, xb: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """`xb` warped as `u` (from `draw`, on xb's device) says: tensor ops alone, so a CUDA graph can
        record them, with `u` as its input."""
        angle = u[:, 0] * math.radians(self.degrees)
        scale = 1 + u[:, 1] * self.zoom
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        # a mirror reads the input at -x: the first column of the map negated
        mirror = torch.where(u[:, 6] > 0, -1.0, 1.0) if self.flip else torch.ones_like(cos)
        # theta maps output coords to input coords, in [-1,1] units: the image is 2 wide
        move = 2 * self.shift
        theta = torch.stack(
            [
                torch.stack([cos * mirror, -sin, u[:, 2] * move], 1),
                torch.stack([sin * mirror, cos, u[:, 3] * move], 1),
            ],
            1,
        ).to(xb.dtype)
        grid = F.affine_grid(theta, list(xb.shape), align_corners=False)
        xb = F.grid_sample(xb, grid, align_corners=False, padding_mode="zeros")
        if not self.stroke:
            return xb
        # half the images keep their pen; the others get one up to `stroke` thicker or half that thinner
        amount = (u[:, 4] * 0.75 + 0.25) * self.stroke * (u[:, 5] > 0)
        return restroke(xb, amount.to(xb.dtype))


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A CPU tensor copied to `device`. To a GPU it goes through pinned memory without waiting:
    a plain copy would stop the CPU until the GPU had finished everything queued before it."""
    if device.type != "cuda":
        return t.to(device)
    return t.pin_memory().to(device, non_blocking=True)


def restroke(xb: torch.Tensor, amount: torch.Tensor) -> torch.Tensor:
    """Thicker strokes where `amount` (one per image, in [-1, 1]) is positive, thinner where negative.

    A 3x3 maximum filter is a dilation (every stroke one pixel wider on each side), and the same
    filter on the negated image, negated back, an erosion. Each image needs only one of them, so
    the images to thin are negated (s = -1), the batch filtered once, and negated back: half the
    filtering of doing both for every image, with the same numbers. Each image is then blended
    between itself and its filtered self by |amount|.
    """
    amount = amount.view(-1, 1, 1, 1)
    sign = torch.where(amount < 0, -1.0, 1.0).to(xb.dtype)
    return xb + amount.abs() * (sign * max_filter3(sign * xb) - xb)


def max_filter3(xb: torch.Tensor) -> torch.Tensor:
    """The largest value of each pixel's 3x3 neighbourhood (outside the image counts as 0).

    Equal to `F.max_pool2d(xb, 3, stride=1, padding=1)` for values >= 0, and for the negated
    images of the erosion it takes the border as 0 too, which is what an image on black means.
    Done as a row pass and a column pass of elementwise maxima: 10x faster than max_pool2d here.
    """
    p = F.pad(xb, (1, 1, 1, 1))
    rows = torch.maximum(torch.maximum(p[..., :-2], p[..., 1:-1]), p[..., 2:])
    return torch.maximum(torch.maximum(rows[..., :-2, :], rows[..., 1:-1, :]), rows[..., 2:, :])
