"""Rebuild the fonts shipped in `bot/ui/cards/fonts/` from Debian's font packages.

    apt-get download fonts-inter fonts-noto-core fonts-dejavu-core \\
        fonts-droid-fallback fonts-noto-color-emoji
    for f in *.deb; do dpkg-deb -x "$f" root; done
    pip install fonttools
    python scripts/build_card_fonts.py root

Every font is copied as Debian ships it, except Noto Color Emoji: its 136 px bitmaps
(10.7 MB) are cut down to a 64 px strike with a 48-colour palette, and the skin-tone
variants are dropped (the renderer strips skin-tone modifiers, so those emoji show in their
default colour). That brings it to about 2.6 MB. The font is renamed "Cards Color Emoji"
because it is a modified version.
"""

from __future__ import annotations

import io
import shutil
import sys
from pathlib import Path

from fontTools import subset  # type: ignore[import-untyped]
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]
from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "bot" / "ui" / "cards" / "fonts"

COPIED = {
    "usr/share/fonts/opentype/inter/Inter-Regular.otf": "Inter-Regular.otf",
    "usr/share/fonts/opentype/inter/Inter-SemiBold.otf": "Inter-SemiBold.otf",
    "usr/share/fonts/opentype/inter/Inter-Bold.otf": "Inter-Bold.otf",
    "usr/share/fonts/truetype/noto/NotoSansArabic-Regular.ttf": "NotoSansArabic-Regular.ttf",
    "usr/share/fonts/truetype/noto/NotoSansArabic-Bold.ttf": "NotoSansArabic-Bold.ttf",
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Regular.ttf": "NotoSansHebrew-Regular.ttf",
    "usr/share/fonts/truetype/noto/NotoSansHebrew-Bold.ttf": "NotoSansHebrew-Bold.ttf",
    "usr/share/fonts/truetype/noto/NotoSansDevanagari-Regular.ttf": (
        "NotoSansDevanagari-Regular.ttf"
    ),
    "usr/share/fonts/truetype/noto/NotoSansThai-Regular.ttf": "NotoSansThai-Regular.ttf",
    **{
        f"usr/share/fonts/truetype/noto/NotoSans{script}-Regular.ttf": (
            f"NotoSans{script}-Regular.ttf"
        )
        for script in (
            "Bengali",
            "Gujarati",
            "Gurmukhi",
            "Kannada",
            "Malayalam",
            "Tamil",
            "Telugu",
            "Sinhala",
            "Khmer",
            "Lao",
            "Myanmar",
            "Ethiopic",
        )
    },
    "usr/share/fonts/truetype/dejavu/DejaVuSans.ttf": "DejaVuSans.ttf",
    "usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf": "DejaVuSans-Bold.ttf",
    "usr/share/fonts-droid-fallback/truetype/DroidSansFallback.ttf": "DroidSansFallback.ttf",
}
EMOJI = "usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
EMOJI_OUT = "CardsColorEmoji.ttf"
EMOJI_PPEM = 64
EMOJI_COLOURS = 48
SKIN_TONES = range(0x1F3FB, 0x1F400)


def build_emoji(src: Path, dst: Path) -> None:
    """A smaller Noto Color Emoji: no skin tones, a 64 px strike, palette PNGs."""
    font = TTFont(src)
    keep = [c for c in font.getBestCmap() if c not in SKIN_TONES]
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=keep)
    subsetter.subset(font)

    sizes = font["CBLC"].strikes[0].bitmapSizeTable
    scale = EMOJI_PPEM / sizes.ppemX
    for glyph in font["CBDT"].strikeData[0].values():
        image = Image.open(io.BytesIO(glyph.imageData)).convert("RGBA")
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        image = image.resize((width, height), Image.Resampling.LANCZOS).quantize(
            colors=EMOJI_COLOURS, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE
        )
        png = io.BytesIO()
        image.save(png, "PNG", optimize=True)
        glyph.imageData = png.getvalue()
        m = glyph.metrics
        m.height, m.width = height, width
        m.BearingX, m.BearingY = round(m.BearingX * scale), round(m.BearingY * scale)
        m.Advance = round(m.Advance * scale)
    sizes.ppemX = sizes.ppemY = EMOJI_PPEM
    for line in (sizes.hori, sizes.vert):
        for key in ("ascender", "descender", "widthMax", "maxBeforeBL", "minAfterBL"):
            setattr(line, key, round(getattr(line, key) * scale))
    for record in font["name"].names:
        if record.nameID in (1, 3, 4, 6, 16):
            text = record.toUnicode().replace("Noto Color Emoji", "Cards Color Emoji")
            record.string = text.replace("NotoColorEmoji", "CardsColorEmoji")
    font.recalcTimestamp = False  # the same input builds the same bytes
    font.save(dst)


def main(root: str) -> None:
    """Copy and build every font from an unpacked Debian package tree."""
    base = Path(root)
    OUT.mkdir(parents=True, exist_ok=True)
    for src, name in COPIED.items():
        shutil.copyfile(base / src, OUT / name)
    build_emoji(base / EMOJI, OUT / EMOJI_OUT)
    for path in sorted(OUT.glob("*.[ot]tf")):
        print(f"{path.stat().st_size / 1024:8.0f} KB  {path.name}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "root")
