"""The fake's CDN: users' avatars (and the default ones) as small PNGs, at ``/cdn/...``.

:meth:`FakeDiscord.install` points discord.py's ``Asset.BASE`` here, so ``member.display_avatar``
and ``Asset.read()`` reach the fake instead of cdn.discordapp.com.
"""

from __future__ import annotations

import re
import struct
import zlib

CDN_PREFIX = "/cdn"
#: avatars/{user}/{hash}.{ext} and guilds/{guild}/users/{user}/avatars/{hash}.{ext}
AVATAR_PATH = re.compile(
    r"/(?:avatars/\d+|guilds/\d+/users/\d+/avatars)/(?P<hash>\w+)\.(?:png|webp|jpg|jpeg|gif)"
)
#: embed/avatars/{n}.png: Discord's default avatars
DEFAULT_AVATAR_PATH = re.compile(r"/embed/avatars/(?P<index>\d)\.png")
DEFAULT_AVATAR_COLOUR = (88, 101, 242)  # Discord's blurple


def solid_png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A PNG of one colour, written by hand (the fake needs no imaging library)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )
