"""The README's workflow diagram is the table's."""

from pathlib import Path

from app.workflows.case_workflow import mermaid_compact

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_diagram_matches_the_workflow_table() -> None:
    assert mermaid_compact() in README.read_text()
