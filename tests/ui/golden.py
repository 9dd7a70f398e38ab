"""Compare a rendered PNG with the one stored in tests/ui/golden/.

UPDATE_GOLDEN=1 pytest tests/ui tests/e2e/test_cards.py   rewrites the stored images from the
current renderer: look at each one (git diff shows which changed) before committing them.

The comparison allows a small mean difference per pixel and channel, so another FreeType or
Pillow build (hinting, anti-aliasing, raqm or basic layout) passes, while a moved panel, a
wrong colour or a missing bar does not.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

from PIL import Image, ImageChops, ImageStat

GOLDEN = Path(__file__).resolve().parent / "golden"
TOLERANCE = 2.0  # mean absolute difference, 0-255 scale, averaged over pixels and channels


def decode(png: bytes) -> Image.Image:
    """Decode PNG bytes, checking they are a PNG."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.load()
    return image


def mean_difference(a: Image.Image, b: Image.Image) -> float:
    """The mean absolute difference of two same-sized RGB images."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    return sum(ImageStat.Stat(diff).mean) / 3


def assert_matches_golden(png: bytes, name: str, folder: Path = GOLDEN) -> None:
    """Check `png` against <folder>/<name>.png, tests/ui/golden/ by default (or write it with
    UPDATE_GOLDEN=1)."""
    path = folder / f"{name}.png"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        folder.mkdir(exist_ok=True)
        path.write_bytes(png)
        return
    assert path.exists(), f"no golden image {path.name}: run with UPDATE_GOLDEN=1 and look at it"
    got, want = decode(png), decode(path.read_bytes())
    assert got.size == want.size, f"{name}: size {got.size}, golden {want.size}"
    difference = mean_difference(got, want)
    assert difference < TOLERANCE, (
        f"{name}: mean pixel difference {difference:.2f} (tolerance {TOLERANCE}); if the change"
        " is meant, regenerate with UPDATE_GOLDEN=1 and look at the image"
    )
