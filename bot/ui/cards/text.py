"""Text in any script: cleaning, per-character font fallback, measuring and drawing.

Pillow draws a string with one font. A display name may mix Latin, Arabic, CJK and emoji,
so it is cut into runs, each drawn with the first font of a chain that has its characters
(read from the fonts' own cmap tables). Characters no font has are dropped, never drawn as
boxes. With raqm (Pillow's complex layout, present when FriBiDi is installed) runs are shaped
(Arabic joining, Indic clusters, emoji ZWJ sequences); without it they are drawn glyph by glyph.
"""

from __future__ import annotations

import functools
import struct
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

FONTS = Path(__file__).resolve().parent / "fonts"
EMOJI_FILE = "CardsColorEmoji.ttf"
EMOJI_PPEM = 64  # the only bitmap strike of the shipped emoji font
ELLIPSIS = "…"


class Weight(StrEnum):
    """The weights the cards use."""

    REGULAR = "regular"
    SEMIBOLD = "semibold"
    BOLD = "bold"


_SCRIPTS = tuple(
    f"NotoSans{script}-Regular.ttf"
    for script in (
        "Devanagari",
        "Bengali",
        "Gujarati",
        "Gurmukhi",
        "Kannada",
        "Malayalam",
        "Tamil",
        "Telugu",
        "Sinhala",
        "Thai",
        "Khmer",
        "Lao",
        "Myanmar",
        "Ethiopic",
    )
)
_REGULAR = (
    "NotoSansArabic-Regular.ttf",
    "NotoSansHebrew-Regular.ttf",
    *_SCRIPTS,
    "DejaVuSans.ttf",
    "DroidSansFallback.ttf",
)
_BOLD = (
    "NotoSansArabic-Bold.ttf",
    "NotoSansHebrew-Bold.ttf",
    *_SCRIPTS,
    "DejaVuSans-Bold.ttf",
    "DroidSansFallback.ttf",
)
CHAINS: dict[Weight, tuple[str, ...]] = {
    Weight.REGULAR: ("Inter-Regular.otf", *_REGULAR, EMOJI_FILE),
    Weight.SEMIBOLD: ("Inter-SemiBold.otf", *_BOLD, EMOJI_FILE),
    Weight.BOLD: ("Inter-Bold.otf", *_BOLD, EMOJI_FILE),
}

RAQM = features.check_feature("raqm") is True
LAYOUT = ImageFont.Layout.RAQM if RAQM else ImageFont.Layout.BASIC

VS15, VS16, ZWJ, ZWNJ = "\ufe0e", "\ufe0f", "\u200d", "\u200c"
SKIN_TONES = range(0x1F3FB, 0x1F400)
# Characters below U+1F000 that are emoji by default (Emoji_Presentation=Yes): drawn with
# the emoji font even when a text font also has them.
_EMOJI_PRESENTATION = frozenset(
    (
        *(0x231A, 0x231B, 0x23F0, 0x23F3, 0x25FD, 0x25FE, 0x2614, 0x2615, 0x267F, 0x2693),
        *(0x26A1, 0x26AA, 0x26AB, 0x26BD, 0x26BE, 0x26C4, 0x26C5, 0x26CE, 0x26D4, 0x26EA),
        *(0x26F2, 0x26F3, 0x26F5, 0x26FA, 0x26FD, 0x2705, 0x270A, 0x270B, 0x2728, 0x274C),
        *(0x274E, 0x2753, 0x2754, 0x2755, 0x2757, 0x2795, 0x2796, 0x2797, 0x27B0, 0x27BF),
        *(0x2B1B, 0x2B1C, 0x2B50, 0x2B55),
        *range(0x23E9, 0x23ED),
        *range(0x2648, 0x2654),
    )
)
# Bidi embeddings, overrides and isolates: they could reorder the rest of a card's text.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f")


def _dropped(ch: str) -> bool:
    return ch in _BIDI_CONTROLS or ord(ch) in SKIN_TONES or ch == VS15


def clean(text: str) -> str:
    """Drop what must never reach a card: control, format and private characters.

    Kept: ZWJ and ZWNJ (they shape Persian, Indic scripts and emoji sequences) and VS16 (it
    asks for the emoji form; consumed by the run splitter). Skin-tone modifiers go, as the
    shipped emoji font has no skin-tone variants.
    """
    out = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if ch in (ZWJ, ZWNJ, VS16):
            out.append(ch)
        elif ch in "\t\n\r\u2028\u2029":
            out.append(" ")
        elif cat not in ("Cc", "Cf", "Cs", "Co", "Cn") and not _dropped(ch):
            out.append(ch)
    return " ".join("".join(out).split())


def _read_cmap(path: Path) -> frozenset[int]:
    """The code points a TrueType/OpenType font maps (cmap formats 4 and 12)."""
    data = path.read_bytes()
    offset = 0
    if data[:4] == b"ttcf":
        offset = struct.unpack_from(">I", data, 12)[0]
    num_tables = struct.unpack_from(">H", data, offset + 4)[0]
    cmap = None
    for i in range(num_tables):
        tag, _, table_offset, _ = struct.unpack_from(">4sIII", data, offset + 12 + 16 * i)
        if tag == b"cmap":
            cmap = table_offset
    if cmap is None:
        return frozenset()
    count = struct.unpack_from(">H", data, cmap + 2)[0]
    subtables: dict[tuple[int, int], int] = {}
    for i in range(count):
        platform, encoding, sub = struct.unpack_from(">HHI", data, cmap + 4 + 8 * i)
        subtables[(platform, encoding)] = cmap + sub
    for key in ((3, 10), (0, 4), (0, 6), (3, 1), (0, 3), (0, 1), (0, 0)):
        if key not in subtables:
            continue
        at = subtables[key]
        fmt = struct.unpack_from(">H", data, at)[0]
        if fmt == 12:
            return frozenset(_format12(data, at))
        if fmt == 4:
            return frozenset(_format4(data, at))
    return frozenset()


def _format12(data: bytes, at: int) -> Iterator[int]:
    groups = struct.unpack_from(">I", data, at + 12)[0]
    for i in range(groups):
        start, end, glyph = struct.unpack_from(">III", data, at + 16 + 12 * i)
        if glyph == 0:
            # A group starting at glyph 0 maps its first code point to .notdef.
            start += 1
        yield from range(start, end + 1)


def _format4(data: bytes, at: int) -> Iterator[int]:
    segs = struct.unpack_from(">H", data, at + 6)[0] // 2
    ends = struct.unpack_from(f">{segs}H", data, at + 14)
    starts = struct.unpack_from(f">{segs}H", data, at + 16 + 2 * segs)
    deltas = struct.unpack_from(f">{segs}h", data, at + 16 + 4 * segs)
    ro_at = at + 16 + 6 * segs
    range_offsets = struct.unpack_from(f">{segs}H", data, ro_at)
    for i in range(segs):
        start, end = starts[i], ends[i]
        if start == 0xFFFF:
            continue
        for cp in range(start, end + 1):
            if range_offsets[i] == 0:
                glyph = (cp + deltas[i]) & 0xFFFF
            else:
                where = ro_at + 2 * i + range_offsets[i] + 2 * (cp - start)
                glyph = struct.unpack_from(">H", data, where)[0]
                if glyph:
                    glyph = (glyph + deltas[i]) & 0xFFFF
            if glyph:
                yield cp


_cmap_lock = threading.Lock()


@functools.cache
def _cmap_unlocked(name: str) -> frozenset[int]:
    return _read_cmap(FONTS / name)


def coverage(name: str) -> frozenset[int]:
    """The code points the shipped font `name` has (read once per process)."""
    with _cmap_lock:
        return _cmap_unlocked(name)


# FreeType faces are not safe to share between threads that render at once: each worker
# thread keeps its own.
_local = threading.local()


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """The shipped font `name` at `size` pixels, cached per thread."""
    cache: dict[tuple[str, int], ImageFont.FreeTypeFont] | None = getattr(_local, "fonts", None)
    if cache is None:
        cache = _local.fonts = {}
    key = (name, EMOJI_PPEM if name == EMOJI_FILE else size)
    loaded = cache.get(key)
    if loaded is None:
        loaded = ImageFont.truetype(str(FONTS / name), key[1], layout_engine=LAYOUT)
        cache[key] = loaded
    return loaded


@functools.lru_cache(maxsize=8192)
def _length(name: str, size: int, text: str) -> float:
    # Shaping is most of the cost of measuring; labels and names repeat from card to card.
    return font(name, size).getlength(text)


@dataclass(frozen=True)
class Run:
    """Consecutive characters drawn with one font."""

    font: str
    text: str

    @property
    def emoji(self) -> bool:
        """Whether this run is drawn from the emoji bitmaps."""
        return self.font == EMOJI_FILE


def _wants_emoji(text: str, i: int) -> bool:
    cp = ord(text[i])
    if cp >= 0x1F000 or cp in _EMOJI_PRESENTATION:
        return True
    return i + 1 < len(text) and text[i + 1] == VS16


def runs(text: str, weight: Weight = Weight.REGULAR) -> list[Run]:
    """Cut cleaned text into runs of one font each, dropping characters no font has.

    Spaces, punctuation and digits stay in the current run when its font has them, so an
    Arabic name with a space and a number is shaped and ordered as one run; combining marks
    and joiners always follow the character before them.
    """
    chain = CHAINS[weight]
    out: list[tuple[str, list[str]]] = []
    for i, ch in enumerate(text):
        if ch == VS16:
            continue
        cp = ord(ch)
        cat = unicodedata.category(ch)
        current = out[-1][0] if out else None
        if current is not None and (cat[0] == "M" or ch in (ZWJ, ZWNJ)):
            # A mark the run's font lacks would be a box: drop it. Joiners are invisible
            # to HarfBuzz when the font lacks them, but a box in the basic layout.
            if cp in coverage(current) or (RAQM and cat[0] != "M"):
                out[-1][1].append(ch)
            continue
        if current == EMOJI_FILE and i > 0 and text[i - 1] == ZWJ and cp in coverage(current):
            out[-1][1].append(ch)
            continue
        chosen: str | None = None
        if _wants_emoji(text, i) and cp in coverage(EMOJI_FILE):
            chosen = EMOJI_FILE
        elif (
            current is not None
            and current != EMOJI_FILE
            and cat[0] not in "LM"
            and cp in coverage(current)
            and not _wants_emoji(text, i)
        ):
            chosen = current
        else:
            chosen = next((name for name in chain if cp in coverage(name)), None)
        if chosen is None or (chosen == EMOJI_FILE and cat == "Zs"):
            if cat == "Zs" and out:
                # A space no font of the run has: draw it with the main font.
                chosen = chain[0]
            else:
                continue
        if current == chosen:
            out[-1][1].append(ch)
        else:
            out.append((chosen, [ch]))
    return [Run(name, "".join(chars)) for name, chars in out]


def _rtl(text: str) -> bool:
    for ch in text:
        kind = unicodedata.bidirectional(ch)
        if kind in ("R", "AL"):
            return True
        if kind == "L":
            return False
    return False


@functools.lru_cache(maxsize=4096)
def line(text: str, size: int, weight: Weight = Weight.REGULAR) -> Line:
    """A `Line`, cached: lines are never changed once made, and labels repeat."""
    return Line(text, size, weight)


class Line:
    """A laid-out line of text at one size and weight: measure it, cut it, draw it."""

    def __init__(self, text: str, size: int, weight: Weight = Weight.REGULAR) -> None:
        self.size = size
        self.weight = weight
        self.text = clean(text)
        self.runs = runs(self.text, weight)
        self.widths = [self._run_width(r) for r in self.runs]

    def _run_width(self, run: Run) -> float:
        if run.emoji:
            return _length(run.font, EMOJI_PPEM, run.text) * self.size / EMOJI_PPEM
        text = run.text if RAQM or not _rtl(run.text) else run.text[::-1]
        return _length(run.font, self.size, text)

    @property
    def width(self) -> float:
        """The drawn width in pixels."""
        return sum(self.widths)

    @property
    def empty(self) -> bool:
        """Whether nothing drawable is left (e.g. a name of control characters only)."""
        return not any(r.text.strip() for r in self.runs)

    def fit(self, max_width: float) -> Line:
        """This line, cut with an ellipsis to at most `max_width` pixels."""
        if self.width <= max_width:
            return self
        chars = list(self.text)
        lo, hi = 0, len(chars)
        best = Line(ELLIPSIS, self.size, self.weight)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            candidate = line("".join(chars[:mid]).rstrip() + ELLIPSIS, self.size, self.weight)
            if candidate.width <= max_width:
                best, lo = candidate, mid
            else:
                hi = mid - 1
        return best

    def draw(
        self,
        image: Image.Image,
        xy: tuple[float, float],
        fill: tuple[int, int, int] | tuple[int, int, int, int],
        anchor: str = "ls",
    ) -> None:
        """Draw at `xy`; `anchor` is l/m/r horizontally and s (baseline) or m vertically."""
        x, y = xy
        if anchor[0] == "m":
            x -= self.width / 2
        elif anchor[0] == "r":
            x -= self.width
        if anchor[1] == "m":
            # Centre on the main font's x-height band so mixed runs share one baseline.
            main = font(CHAINS[self.weight][0], self.size)
            ascent, descent = main.getmetrics()
            y += (ascent - descent) / 2 - self.size * 0.04
        order = list(zip(self.runs, self.widths, strict=True))
        if _rtl(self.text):
            order.reverse()
        ink = (*fill[:3], 255) if image.mode == "RGBA" else fill[:3]
        for run, width in order:
            if run.emoji:
                self._draw_emoji(image, run, x, y)
            else:
                text = run.text if RAQM or not _rtl(run.text) else run.text[::-1]
                mask, left, top = _mask(run.font, self.size, text)
                if mask.width and mask.height:
                    image.paste(ink, (round(x) + left, round(y) + top), mask)
            x += width

    def _draw_emoji(self, image: Image.Image, run: Run, x: float, baseline: float) -> None:
        sprite = _emoji_sprite(run.text, self.size)
        # The sprite's baseline sits at 80% of its height (the font's ascent over its size).
        top = baseline - round(sprite.height * _EMOJI_ASCENT)
        image.paste(sprite, (round(x), round(top)), sprite)


_EMOJI_ASCENT = 0.8
_MASKS = 1024


def _mask(name: str, size: int, text: str) -> tuple[Image.Image, int, int]:
    """The anti-aliased coverage of `text` and its offset from the baseline origin.

    Cached per thread: card labels (months, weekdays, level titles, headings) repeat from one
    card to the next, and pasting a cached mask costs a tenth of shaping and rasterising.
    """
    cache: OrderedDict[tuple[str, int, str], tuple[Image.Image, int, int]] | None = getattr(
        _local, "masks", None
    )
    if cache is None:
        cache = _local.masks = OrderedDict()
    key = (name, size, text)
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    face = font(name, size)
    left, top, right, bottom = (round(v) for v in face.getbbox(text, anchor="ls"))
    mask = Image.new("L", (max(0, right - left), max(0, bottom - top)), 0)
    if mask.width and mask.height:
        ImageDraw.Draw(mask).text((-left, -top), text, font=face, fill=255, anchor="ls")
    cache[key] = (mask, left, top)
    if len(cache) > _MASKS:
        cache.popitem(last=False)
    return mask, left, top


def _emoji_sprite(text: str, size: int) -> Image.Image:
    cache: dict[tuple[str, int], Image.Image] | None = getattr(_local, "emoji", None)
    if cache is None:
        cache = _local.emoji = {}
    key = (text, size)
    sprite = cache.get(key)
    if sprite is None:
        face = font(EMOJI_FILE, EMOJI_PPEM)
        width = max(1, round(face.getlength(text)))
        height = round(EMOJI_PPEM / _EMOJI_ASCENT * 1.0)
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
        ImageDraw.Draw(canvas).text(
            (0, round(height * _EMOJI_ASCENT)), text, font=face, embedded_color=True, anchor="ls"
        )
        scale = size / EMOJI_PPEM
        sprite = canvas.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))),
            Image.Resampling.LANCZOS,
        )
        if len(cache) > 512:
            cache.clear()
        cache[key] = sprite
    return sprite
