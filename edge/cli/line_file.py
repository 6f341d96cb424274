"""``gainctl run --line FILE``: a TOML file that names each station of a line.

Repeated ``--camera``/``--source`` give every station the same sinks, deadline and camera
settings; a real line is not that uniform (the top camera's parts leave sooner than the side
camera's, each lane has its own reject gate). The file says so per station and builds the same
stations the repeated options build. Every mistake is refused before anything opens, with a message
that names the file, the station and the key, so an operator fixes it without reading code.

    [[station]]
    name = "top"
    camera = 0                    # or: source = "top.mp4" (a video, image folder, rtsp:// URL, pipeline)
    sinks = ["journal:top.jsonl"] # this station's own sinks, besides the --sink ones
    deadline_ms = 80
    fps = 30                      # optional: the camera's fps, width and height to request
    width = 1280
    height = 720
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from edge.cli.errors import InputError
from edge.events import NAME_CHARS

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, from PyPI (the edge extra installs it there)
    import tomli as tomllib

_TYPES: Dict[str, Tuple[type, ...]] = {
    "name": (str,), "camera": (int,), "source": (str,), "sinks": (list,), "deadline_ms": (int, float),
    "fps": (int, float), "width": (int,), "height": (int,),
}


@dataclass(frozen=True)
class StationEntry:
    """One station: what to open for it and how to decide its frames.

    ``name``: None for a run of one source given by ``--camera``/``--source`` (its events name no
    station). ``None`` for deadline, fps, width and height: the command line's value.
    """

    name: Optional[str]
    camera: Optional[int] = None
    source: Optional[str] = None
    sinks: Tuple[str, ...] = field(default_factory=tuple)
    deadline_ms: Optional[float] = None
    fps: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None


def read_line_file(path: str) -> List[StationEntry]:
    """The stations of a line file, in file order; InputError (exit 2) naming file, station and key."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"line file {path}: cannot be read ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"line file {path}: not valid TOML ({exc})") from exc
    unknown = sorted(set(data) - {"station"})
    if unknown:
        raise InputError(f"line file {path}: unknown key {unknown[0]!r} at the top; only [[station]] tables belong there")
    tables = data.get("station")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise InputError(f"line file {path}: names no station; give one [[station]] table per camera or source")
    entries: List[StationEntry] = []
    for number, table in enumerate(tables, start=1):
        entry = _entry(path, number, table)
        if any(entry.name == other.name for other in entries):
            raise InputError(f"line file {path}: station {entry.name!r} is named twice; each station needs a name of its own")
        entries.append(entry)
    return entries


def _entry(path: str, number: int, table: Dict[str, Any]) -> StationEntry:
    """One [[station]] table checked key by key: the first problem is the one reported."""
    name = table.get("name")
    where = f"line file {path}, station {name!r}" if isinstance(name, str) and name else f"line file {path}, station #{number}"
    for key, value in table.items():
        if key not in _TYPES:
            raise InputError(f"{where}: unknown key {key!r}; known keys: {', '.join(_TYPES)}")
        if isinstance(value, bool) or not isinstance(value, _TYPES[key]):
            raise InputError(f"{where}: key {key!r} must be {' or '.join(t.__name__ for t in _TYPES[key])}, got {value!r}")
    if not name:
        raise InputError(f"{where}: key 'name' is missing; events and the summary name the station by it")
    if not re.fullmatch(f"[{NAME_CHARS}]+", name):
        raise InputError(f"{where}: key 'name' may hold only letters, digits, '.', '_' and '-' ({NAME_CHARS}): "
                         "saved rejects are named after the station")
    if ("camera" in table) == ("source" in table):
        problem = "gives both 'camera' and 'source'" if "camera" in table else "key 'source' (or 'camera') is missing"
        raise InputError(f"{where}: {problem}; give exactly one")
    sinks = table.get("sinks", [])
    if not all(isinstance(spec, str) for spec in sinks):
        raise InputError(f"{where}: key 'sinks' must be a list of sink strings, got {sinks!r}")
    for key in ("deadline_ms", "fps", "width", "height"):
        if key in table and table[key] <= 0:
            raise InputError(f"{where}: key {key!r} must be positive, got {table[key]!r}")
    return StationEntry(name=name, camera=table.get("camera"), source=table.get("source"), sinks=tuple(sinks),
                        deadline_ms=table.get("deadline_ms"), fps=table.get("fps"), width=table.get("width"),
                        height=table.get("height"))
