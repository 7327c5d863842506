"""The workflow diagram as SVG: Graphviz runs once per process, as the table never changes."""

import functools
import shutil
import subprocess
import threading

from app.workflows.case_workflow import graphviz

# Concurrent first requests wait for the one rendering rather than each starting Graphviz.
_rendering = threading.Lock()


@functools.cache
def render() -> bytes | None:
    """The diagram rendered by Graphviz (None where Graphviz is not installed)."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    return subprocess.run(  # noqa: S603 - fixed executable, our own input
        [dot, "-Tsvg"], input=graphviz().encode(), capture_output=True, check=True, timeout=10
    ).stdout


def svg() -> bytes | None:
    """The diagram as SVG, rendered on first use; blocks while it renders, so run it off the loop."""
    with _rendering:
        return render()
