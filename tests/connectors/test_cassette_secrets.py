"""No cassette may hold anything shaped like a credential."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent
SECRET_SHAPES = [
    re.compile(r"Bearer\s+(?!REDACTED)[A-Za-z0-9._~+/-]{12,}"),
    re.compile(r"Basic\s+(?!REDACTED)[A-Za-z0-9+/=]{12,}"),
    re.compile(
        r"(?i)(api_token|api_key|access_token|refresh_token|client_secret)[\"']?\s*[:=]\s*[\"']?(?!REDACTED)[A-Za-z0-9._-]{12,}"
    ),
    re.compile(r"(?i)x-api-token:\s*\n?\s*-\s*(?!REDACTED)[A-Za-z0-9]{12,}"),
]


def cassettes() -> list[Path]:
    return sorted(ROOT.rglob("cassettes/*.yaml"))


def test_cassettes_hold_no_secrets():
    leaks = []
    for path in cassettes():
        text = path.read_text()
        leaks += [
            f"{path.relative_to(ROOT)}: {m.group(0)[:40]}"
            for shape in SECRET_SHAPES
            for m in shape.finditer(text)
        ]
    assert leaks == []


def test_the_scanner_catches_a_leak(tmp_path):
    sample = "headers:\n  Authorization:\n  - Bearer abcdefghijklmnop123456\n"
    assert any(shape.search(sample) for shape in SECRET_SHAPES)
    assert not any(shape.search("Authorization:\n  - REDACTED\n") for shape in SECRET_SHAPES)
