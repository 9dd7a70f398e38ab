"""Drawing primitives shared by the cards: colours, a supersampled canvas, avatars, numbers.

Cards are laid out in logical pixels. Shapes are drawn at twice that size and halved with a
box filter: Pillow draws shapes without anti-aliasing, and the halving smooths every edge
(bars, circles, heatmap cells) for a few milliseconds. Text is anti-aliased by FreeType
already, so it is queued and drawn at the final size on top of the shapes: four times fewer
pixels to rasterise, and crisper hinting.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import struct
import unicodedata
import zlib

from PIL import Image, ImageDraw, ImageOps

from bot.ui.cards.text import Line, Weight, clean, line

RGB = tuple[int, int, int]

BG: RGB = (13, 17, 23)
PANEL: RGB = (22, 27, 34)
EDGE: RGB = (38, 45, 56)
TRACK: RGB = (40, 47, 58)
TEXT: RGB = (236, 240, 245)
MUTED: RGB = (145, 154, 166)
FAINT: RGB = (92, 101, 114)
ACCENT: RGB = (47, 128, 237)  # the house colour of the embeds
ACCENT_LIGHT: RGB = (110, 172, 255)
GREEN: RGB = (46, 204, 143)
GOLD: RGB = (242, 190, 60)
SILVER: RGB = (190, 199, 212)
BRONZE: RGB = (214, 134, 76)
HEAT: tuple[RGB, ...] = ((33, 39, 48), (14, 68, 52), (0, 112, 74), (22, 163, 104), (52, 219, 143))

SCALE = 2
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_AVATAR_PIXELS = 4096 * 4096
FALLBACK_NAME = "Member"


def fmt(n: int) -> str:
    """A count with thousands separators: 12,345."""
    return f"{n:,}"


def display_name(name: str) -> str:
    """The name to draw, or "Member" when nothing drawable is left of it."""
    return FALLBACK_NAME if line(name, 10).empty else name


class Canvas:
    """An RGB image drawn in logical pixels at `SCALE` times the size."""

    def __init__(self, width: int, height: int, bg: RGB = BG) -> None:
        self.width, self.height = width, height
        self.image = Image.new("RGB", (width * SCALE, height * SCALE), bg)
        self.draw = ImageDraw.Draw(self.image)
        self._texts: list[tuple[Line, tuple[float, float], RGB, str]] = []
        self._sprites: dict[tuple[RGB, RGB, float, float], Image.Image] = {}

    @staticmethod
    def px(value: float) -> int:
        """Logical to device pixels."""
        return round(value * SCALE)

    def rect(
        self,
        x: float,
        y: float,
        w: float,
        h: float,
        fill: RGB,
        radius: float = 0,
        outline: RGB | None = None,
    ) -> None:
        """A (rounded) rectangle."""
        box = (self.px(x), self.px(y), self.px(x + w) - 1, self.px(y + h) - 1)
        if box[2] < box[0] or box[3] < box[1]:
            return
        r = min(self.px(radius), (box[2] - box[0]) // 2, (box[3] - box[1]) // 2)
        width = SCALE if outline else 0
        if r > 0:
            self.draw.rounded_rectangle(box, r, fill=fill, outline=outline, width=width)
        else:
            self.draw.rectangle(box, fill=fill, outline=outline, width=width)

    def circle(self, cx: float, cy: float, r: float, fill: RGB) -> None:
        """A filled circle."""
        self.draw.ellipse(
            (self.px(cx - r), self.px(cy - r), self.px(cx + r) - 1, self.px(cy + r) - 1), fill=fill
        )

    def line(self, points: list[tuple[float, float]], fill: RGB, width: float = 1) -> None:
        """A polyline."""
        self.draw.line(
            [(self.px(x), self.px(y)) for x, y in points], fill=fill, width=self.px(width)
        )

    def tile(self, x: float, y: float, size: float, fill: RGB, under: RGB, radius: float) -> None:
        """A small rounded square on a plain `under` colour, pasted from a cached sprite."""
        key = (fill, under, size, radius)
        sprite = self._sprites.get(key)
        if sprite is None:
            px = self.px(size)
            sprite = Image.new("RGB", (px, px), under)
            ImageDraw.Draw(sprite).rounded_rectangle((0, 0, px - 1, px - 1), self.px(radius), fill)
            self._sprites[key] = sprite
        self.image.paste(sprite, (self.px(x), self.px(y)))

    def bar(self, x: float, y: float, w: float, h: float, share: float, fill: RGB) -> None:
        """A rounded progress bar, `share` from 0 to 1 of it filled."""
        self.rect(x, y, w, h, TRACK, radius=h / 2)
        share = max(0.0, min(1.0, share))
        if share > 0:
            self.rect(x, y, max(h, w * share), h, fill, radius=h / 2)

    def text(
        self,
        xy: tuple[float, float],
        text: str,
        size: float,
        fill: RGB,
        weight: Weight = Weight.REGULAR,
        anchor: str = "ls",
        max_width: float | None = None,
    ) -> float:
        """Queue one line of text (drawn last, over the shapes); return its width."""
        laid = line(text, round(size), weight)
        if max_width is not None:
            laid = laid.fit(max_width)
        self._texts.append((laid, xy, fill, anchor))
        return laid.width

    @staticmethod
    def measure(text: str, size: float, weight: Weight = Weight.REGULAR) -> float:
        """The width `text` would take."""
        return line(text, round(size), weight).width

    def paste(self, image: Image.Image, x: float, y: float) -> None:
        """Paste a device-pixel RGBA image at a logical position."""
        self.image.paste(image, (self.px(x), self.px(y)), image)

    def png(self) -> bytes:
        """The finished card as PNG bytes, at its logical size."""
        out = self.image.reduce(SCALE) if SCALE > 1 else self.image
        for laid, xy, fill, anchor in self._texts:
            laid.draw(out, xy, fill, anchor)
        return encode_png(out)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png(image: Image.Image) -> bytes:
    """An RGB image as PNG: no row filter, zlib level 1.

    Pillow's encoder picks a filter per row, which took most of a card's encoding time (about
    20 ms of 25). A card is flat colours where each row repeats the one above, so zlib alone
    finds the repeats: about 13 ms and a smaller file (a progress card is about 90 KB).
    Python's zlib also lets other threads (the event loop) run while it compresses.
    """
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    width, height = rgb.size
    # Each row starts with its filter type (0: none): the pixels as an 8-bit image one byte
    # wider, shifted right by one, give exactly that, without a Python loop over rows.
    pixels = Image.frombytes("L", (width * 3, height), rgb.tobytes())
    framed = Image.new("L", (width * 3 + 1, height), 0)
    framed.paste(pixels, (1, 0))
    rows = framed.tobytes()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(rows, 1))
        + _chunk(b"IEND", b"")
    )


def default_colour(user_id: int) -> RGB:
    """A pleasant colour that is always the same for one user id."""
    digest = hashlib.blake2b(str(user_id).encode(), digest_size=2).digest()
    hue = int.from_bytes(digest, "big") / 65536
    r, g, b = colorsys.hls_to_rgb(hue, 0.52, 0.55)
    return round(r * 255), round(g * 255), round(b * 255)


def initials(name: str) -> str:
    """Up to two initials from a name; one for a CJK name; "?" when none can be drawn."""
    letters: list[str] = []
    for word in clean(name).split():
        first = next((ch for ch in word if unicodedata.category(ch)[0] in "LN"), None)
        if first is None or Line(first, 10).empty:
            continue
        if unicodedata.east_asian_width(first) == "W":
            return first if not letters else letters[0]
        letters.append(first.upper())
        if len(letters) == 2:
            break
    return "".join(letters) or "?"


def _decode(data: bytes, size: int) -> Image.Image | None:
    try:
        opened = Image.open(io.BytesIO(data))
        if opened.width * opened.height > MAX_AVATAR_PIXELS:
            return None
        opened.draft("RGB", (size, size))
        opened.seek(0)
        rgba = (ImageOps.exif_transpose(opened) or opened).convert("RGBA")
    except Exception:  # any broken or foreign image: draw the default avatar instead
        return None
    backed = Image.new("RGBA", rgba.size, (*PANEL, 255))
    backed.alpha_composite(rgba)
    return ImageOps.fit(backed, (size, size), Image.Resampling.LANCZOS)


def avatar(data: bytes | None, user_id: int, name: str, diameter: float) -> Image.Image:
    """A round avatar of `diameter` logical pixels, as device-pixel RGBA.

    The member's picture when `data` decodes, else their initials on a colour of their own.
    """
    size = Canvas.px(diameter)
    picture = _decode(data, size) if data else None
    if picture is None:
        picture = Image.new("RGBA", (size, size), (*default_colour(user_id), 255))
        mark = initials(name)
        Line(mark, round(size * (0.42 if len(mark) < 2 else 0.36)), Weight.BOLD).draw(
            picture, (size / 2, size / 2), (255, 255, 255), anchor="mm"
        )
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size - 1, size - 1), fill=255)
    picture.putalpha(mask)
    return picture
