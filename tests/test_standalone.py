"""The repository stands on its own: no file it tracks reads or names a folder beside it, so a
clone with nothing next to it builds, serves and passes its tests."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# Built at run time, so that this file does not name the folder itself.
_SIBLING = "shared"
OUTSIDE = re.compile(
    "|".join(
        [
            re.escape("../" + _SIBLING),  # a relative path out of the clone
            re.escape("/work/" + _SIBLING),  # the absolute path of the folder beside it
            r"\.parent\s*/\s*[\"']" + _SIBLING + r"[\"']",  # Path(...).parent / "<folder>"
            re.escape(_SIBLING + "/fixtures"),  # the fixtures that folder held
        ]
    ).encode()
)


def tracked_files() -> list[Path]:
    """Every file git tracks in this clone."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git clone: nothing tells which files are tracked")
    listed = subprocess.run([git, "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    return [REPO / name for name in listed.decode().split("\0") if name]


def naming_outside(path: Path) -> list[str]:
    """The lines of `path` that name the folder beside the clone, with their line numbers."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:  # tracked but deleted in this work tree
        return []
    return [
        f"{path.relative_to(REPO)}:{n}: {line.decode(errors='replace').strip()}"
        for n, line in enumerate(data.splitlines(), 1)
        if OUTSIDE.search(line)
    ]


class TestStandsAlone:
    def test_the_check_recognises_each_way_of_naming_the_folder(self) -> None:
        # Guards the test below: each of these lines must be caught, or nothing is being checked.
        lines = [
            "--data @../" + _SIBLING + "/fixtures/hmpps/report.json",
            "FIXTURES = REPO.parent / '" + _SIBLING + "' / 'x'",
            "open('/work/" + _SIBLING + "/contract.md')",
            "see " + _SIBLING + "/fixtures/hmpps",
        ]
        for line in lines:
            assert OUTSIDE.search(line.encode()), line
        assert not OUTSIDE.search(b"shared machine; a shared secret; shared_buffers = 32MB")

    def test_no_tracked_file_names_a_folder_beside_the_clone(self) -> None:
        files = tracked_files()
        # A listing that missed these would check nothing that matters.
        names = {str(f.relative_to(REPO)) for f in files}
        assert {"README.md", "Makefile", "Dockerfile", ".ci/run", "tests/conftest.py"} <= names
        found = [hit for path in files for hit in naming_outside(path)]
        assert found == [], "\n".join(found)
