"""The vendored known-answer data is what its SOURCES.md says: every file listed with its size and sha256, and
nothing unlisted (a file the tests read must have a stated source and licence)."""

from __future__ import annotations

import hashlib
import re

from tests import KNOWN_ANSWER_DATA

# A row of SOURCES.md's table: | file | bytes | `sha256` | licence |
ROW = re.compile(r"^\| (?P<name>[^|`]+?) \| (?P<size>\d+) \| `(?P<sha256>[0-9a-f]{64})` \| (?P<licence>[^|]+?) \|$")


def listed() -> dict[str, tuple[int, str, str]]:
    text = (KNOWN_ANSWER_DATA / "SOURCES.md").read_text(encoding="utf-8")
    rows = (ROW.match(line) for line in text.splitlines())
    return {m["name"]: (int(m["size"]), m["sha256"], m["licence"]) for m in rows if m}


def test_every_vendored_file_matches_its_listed_size_and_sha256() -> None:
    files = listed()
    assert files, "SOURCES.md lists no file"
    for name, (size, sha256, _licence) in files.items():
        data = (KNOWN_ANSWER_DATA / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, sha256), name


def test_nothing_unlisted_is_vendored_and_every_file_names_its_licence() -> None:
    present = {p.name for p in KNOWN_ANSWER_DATA.iterdir()} - {"SOURCES.md", ".gitattributes"}
    files = listed()
    assert present == set(files)
    assert all(licence.strip() for _size, _sha256, licence in files.values())
