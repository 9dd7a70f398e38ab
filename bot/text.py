"""User-written text, cleaned once where it enters: the services' inputs.

Evidence, check-in answers and display names reach the services from slash options, modal
fields and Discord's member objects alike; the services are the one place all of them pass
(and the one the tests call without Discord), so that is where `clean_text` is applied.
"""

from __future__ import annotations

import re

# Unicode category Cc is exactly U+0000-001F and U+007F-009F: keep only tab and newline.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(text: str) -> str:
    """`text` without control characters other than newline and tab (NUL, ESC, CR, DEL...)."""
    return _CONTROL.sub("", text)
