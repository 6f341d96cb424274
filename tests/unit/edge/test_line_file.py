"""The line file: each mistake refused naming the file, the station and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.cli.errors import InputError
from edge.cli.line_file import StationEntry, read_line_file

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "line.example.toml"


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "line.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_the_example_names_its_stations_in_order() -> None:
    top, side = read_line_file(str(EXAMPLE))
    assert top == StationEntry("top", camera=0, sinks=("journal:top.jsonl", "gpio:gpiochip0:17:dry-run"),
                               deadline_ms=80, fps=30, width=1280, height=720)
    assert side.name == "side" and side.source.startswith("rtsp://") and side.camera is None and side.fps is None


@pytest.mark.parametrize("text, expected", [
    ('[[station]]\nname = "top"\nsource = "a.mp4"\ndeadline = 80\n', "station 'top': unknown key 'deadline'"),
    ('[[station]]\nname = "top"\nsinks = ["stdout"]\n', "station 'top': key 'source' (or 'camera') is missing"),
    ('[[station]]\nname = "top"\ncamera = 0\nsource = "a.mp4"\n', "station 'top': gives both 'camera' and 'source'"),
    ('[[station]]\nname = "top"\ncamera = 0\n[[station]]\nname = "top"\ncamera = 1\n', "station 'top' is named twice"),
    ('[[station]]\ncamera = 0\n', "station #1: key 'name' is missing"),
    ('[[station]]\nname = "../../x"\ncamera = 0\n', "station '../../x': key 'name' may hold only letters, digits, '.', '_' and '-' (A-Za-z0-9._-)"),
    ('[[station]]\nname = "lane 1/top"\ncamera = 0\n', "station 'lane 1/top': key 'name' may hold only"),
    ('[[station]]\nname = "top"\ncamera = "0"\n', "station 'top': key 'camera' must be int"),
    ('[[station]]\nname = "top"\ncamera = 0\ndeadline_ms = 0\n', "station 'top': key 'deadline_ms' must be positive"),
    ('[[station]]\nname = "top"\ncamera = 0\nsinks = [1]\n', "station 'top': key 'sinks' must be a list of sink strings"),
    ('[line]\nmode = "latest"\n', "unknown key 'line' at the top"),
    ('# nothing\n', "names no station"),
    ('[[station]\nname = "top"\n', "not valid TOML"),
])
def test_a_bad_file_is_refused_naming_file_station_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_line_file(path)
    assert caught.value.exit_code == 2
    assert caught.value.message.startswith(f"line file {path}") and expected in caught.value.message


def test_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"line file .*missing\.toml: cannot be read"):
        read_line_file(str(tmp_path / "missing.toml"))
