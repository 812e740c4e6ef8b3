"""``benchmarks/RESULTS.md``: each benchmark owns a ``## Title`` section and replaces only it."""

from __future__ import annotations

from pathlib import Path

HEADER = "# Benchmark results\n\nEach section is written by the benchmark named in it.\n"


def replace_section(path: Path, title: str, body: str) -> None:
    """Put ``body`` under ``## title`` in ``path``, leaving every other section as it is."""
    text = path.read_text() if path.exists() else HEADER
    heading = f"## {title}\n"
    new = f"{heading}\n{body.strip()}\n"
    start = _find(text, heading)
    if start is None:
        path.write_text(text.rstrip("\n") + "\n\n" + new)
        return
    end = text.find("\n## ", start + len(heading))
    rest = "" if end < 0 else text[end + 1 :]
    path.write_text(text[:start] + new + ("\n" + rest if rest else ""))


def _find(text: str, heading: str) -> int | None:
    if text.startswith(heading):
        return 0
    found = text.find("\n" + heading)
    return None if found < 0 else found + 1
