"""Reading YAML while remembering where every value came from.

Config errors must name the file, the line and the field path. PyYAML's composed node tree has
the marks, so we build the Python values ourselves from it and keep a ``path -> line`` index,
interpolating ``${VAR}`` / ``${VAR:-default}`` in string scalars on the way (``$$`` is a literal
``$``). Duplicate keys are errors rather than silently overwritten.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_REFERENCE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True)
class SourceError(Exception):
    """A problem at one place in one file."""

    file: str
    line: int | None
    path: Path_
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        dotted = format_path(self.path)
        return f"{where}: {dotted}: {self.message}" if dotted else f"{where}: {self.message}"


class SourceErrors(Exception):
    """Problems that do not stop the reading (every missing variable), in file order."""

    def __init__(self, problems: list[SourceError]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = problems


def format_path(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


@dataclass
class LocatedDocument:
    """A parsed YAML document plus the line of every value in it."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    # The environment variables each value was built from (``${NAME}``), by path: an error
    # about a secret can say where to put a new one without ever showing its value.
    references: dict[Path_, tuple[str, ...]] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int | None:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def error(self, path: Path_, message: str) -> SourceError:
        return SourceError(self.file, self.line_of(path), path, message)


def load(path: Path, env: Mapping[str, str] | None = None) -> LocatedDocument:
    """Parse ``path``; raises :class:`SourceError` for an unreadable file or bad YAML, and
    :class:`SourceErrors` naming every unset ``${VAR}``."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SourceError(name, None, (), f"cannot read config file: {exc.strerror}") from None
    return loads(text, name, os.environ if env is None else env)


def loads(text: str, name: str, env: Mapping[str, str]) -> LocatedDocument:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(name, line, (), f"invalid YAML: {exc.problem or exc}") from None
    finally:
        loader.dispose()
    document = LocatedDocument(name, None)
    if node is not None:
        builder = _Builder(document, env, loader)
        document.data = builder.build(node, ())
        if builder.unset:
            raise SourceErrors(builder.unset)
    return document


class _Builder:
    def __init__(self, document: LocatedDocument, env: Mapping[str, str], loader: Any) -> None:
        self.document = document
        self.env = env
        self.loader = loader
        # Reported together once the whole file is read, so one run names every variable.
        self.unset: list[SourceError] = []

    def build(self, node: yaml.Node, path: Path_) -> Any:
        self.document.lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        value = self.loader.construct_object(node, deep=True)
        if isinstance(value, str):
            return self._interpolate(value, path)
        return value

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                line = key_node.start_mark.line + 1
                raise SourceError(self.document.file, line, child, "duplicate key")
            self.document.lines[child] = key_node.start_mark.line + 1
            result[key] = self.build(value_node, child)
            self.document.lines[child] = key_node.start_mark.line + 1
        return result

    def _interpolate(self, value: str, path: Path_) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in self.env:
                return self.env[name]
            if default is not None:
                return default
            self.unset.append(self.document.error(path, f"environment variable {name} is not set"))
            return ""

        names = tuple(m.group(1) for m in _REFERENCE.finditer(value) if m.group(1))
        if names:
            self.document.references[path] = names
        return _REFERENCE.sub(replace, value)
