"""The documentation stays true: the README's first case runs against a real server, every
example request and response validates against the OpenAPI document, every relative link leads
somewhere, the configuration table names exactly the settings, and the workflow diagram is the
table's. docs/testing.md says how an example is marked."""

import json
import os
import re
import shlex
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from app.config import Settings
from app.events.service import OUTBOUND_TYPES
from app.workflows.case_workflow import mermaid_compact
from tests.server import Server
from tests.support import Api

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.rglob("*.md")), *sorted((REPO / "bench").rglob("*.md"))]
OPENAPI = json.loads((REPO / "openapi" / "openapi.json").read_text())
REGISTRY: Registry = Registry().with_resource("urn:rj:openapi", DRAFT202012.create_resource(OPENAPI))
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")

# What a shell variable in an example body stands for: a value taken from an earlier answer, or
# made by the shell. The walk-through test runs the README with the real values.
SAMPLES = {
    "HARMED": "2f1c63de-6c0e-4a53-9a57-0c1b3c1e7d10",
    "HARMER": "ca00db6b-58e0-4a91-8458-c640066bddf9",
    "REP": "6442f8e1-b2ee-4133-b614-22532d2f8165",
    "ME": "8e570379-71dc-4e03-9015-01c44ba3ebd8",
    "NOW": "2026-12-07T10:00:00Z",
    "SCOPE": "indirect",
    "P": "2f1c63de-6c0e-4a53-9a57-0c1b3c1e7d10",
    "SECRET": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" * 2,
}


# --- reading Markdown ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    """A fenced code block: its page, the line of its opening fence, its info string and text."""

    page: Path
    line: int
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*(.*)$")


def blocks(page: Path) -> list[Block]:
    """The page's fenced code blocks."""
    lines = page.read_text().splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if opening is None:
            i += 1
            continue
        fence, start, body = opening.group(1), i, []
        i += 1
        while i < len(lines) and lines[i].strip() != fence:
            body.append(lines[i])
            i += 1
        found.append(Block(page, start + 1, opening.group(2).strip(), "\n".join(body)))
        i += 1
    return found


def outside_fences(page: Path) -> list[str]:
    """The page's lines, those of fenced blocks blanked."""
    inside = {b.line - 1 + n for b in blocks(page) for n in range(b.text.count("\n") + 3)}
    return ["" if n in inside else line for n, line in enumerate(page.read_text().splitlines())]


def prose(page: Path) -> list[str]:
    """The page's lines outside fenced blocks, without inline code."""
    return [re.sub(r"`[^`]*`", "", line) for line in outside_fences(page)]


def section(page: Path, heading: str) -> str:
    """The page's text from `## heading` to the next heading of that level."""
    text = page.read_text()
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def slugs(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings."""
    seen: Counter[str] = Counter()
    anchors = set()
    for line in outside_fences(page) if page.suffix == ".md" else []:
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading is None:
            continue
        slug = re.sub(r"[^\w\- ]", "", heading.group(1).replace("`", "").lower()).replace(" ", "-")
        anchors.add(slug if not seen[slug] else f"{slug}-{seen[slug]}")
        seen[slug] += 1
    return anchors


# --- examples ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    """A request or response shown in the documentation."""

    where: str
    method: str
    target: str
    status: str | None = None  # a response's status; None for a request
    body: str | None = None  # JSON text, shell variables and all
    body_file: str | None = None  # a file sent as the body (`--data @file`)

    @property
    def id(self) -> str:
        kind = f"{self.status} " if self.status else ""
        return f"{self.where} {kind}{self.method} {urlsplit(self.target).path}"


HEREDOC = re.compile(r"<<-?\s*['\"]?(\w+)['\"]?")
CALL = re.compile(r"(?:^|[\s;{(|&])(curl|rj)\s")
DATA_FLAGS = ("-d", "--data", "--data-raw", "--data-binary", "--json")
ENDS = ("|", "||", "&&", ";", ">", ">>")


def complete(line: str) -> bool:
    """Whether the shell would take the line as it is: no quotation left open, no continuation."""
    try:
        shlex.split(line)
    except ValueError:
        return False
    return not line.endswith("\\")


def command_lines(block: Block) -> Iterator[tuple[int, str, str | None]]:
    """Each command line of a shell block (continued lines and quoted text over several lines
    joined), with its here-document."""
    lines = block.text.splitlines()
    i = 0
    while i < len(lines):
        start, line = i, lines[i]
        while not complete(line) and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i].strip() if line.endswith("\\") else line + "\n" + lines[i]
        document = None
        marker = HEREDOC.search(line)
        if marker is not None:
            body = []
            i += 1
            while i < len(lines) and lines[i] != marker.group(1):
                body.append(lines[i])
                i += 1
            document = "\n".join(body)
            line = line[: marker.start()] + line[marker.end() :]
        yield block.line + 1 + start, line, document
        i += 1


def shell_examples(block: Block) -> Iterator[Example]:
    """The API calls of a shell block: `curl ... -X METHOD "$RJ/path"` and the README's
    `rj METHOD /path`, each with the body it sends."""
    for line_no, line, document in command_lines(block):
        call = CALL.search(line)
        if call is None:
            continue
        words = shlex.split(line[call.start(1) :])
        words = words[: next((n for n, w in enumerate(words) if w in ENDS), len(words))]
        if words[0] == "rj":
            method, target, args = (words[1], words[2], words[3:]) if len(words) > 2 else ("", "", [])
        else:
            args = words[1:]
            method = next((args[n + 1] for n, w in enumerate(args[:-1]) if w in ("-X", "--request")), "")
            target = next((w for w in args if "$RJ" in w or "${RJ}" in w), "")
        data = next((args[n + 1] for n, w in enumerate(args[:-1]) if w in DATA_FLAGS), None)
        method = method or ("POST" if data is not None else "GET")
        target = target.replace("${RJ}", "$RJ").replace("$RJ", "")
        if method not in METHODS or not target.startswith("/"):
            continue  # not a call of the API (the helper's own definition, for one)
        where = f"{block.page.relative_to(REPO)}:{line_no}"
        if data == "@-":
            yield Example(where, method, target, body=document)
        elif data is not None and data.startswith("@"):
            yield Example(where, method, target, body_file=data[1:])
        else:
            yield Example(where, method, target, body=data)


def json_example(block: Block) -> Example | None:
    """A ```json block labelled `METHOD /path` (a request) or `STATUS METHOD /path` (a response);
    None for one labelled otherwise."""
    words = block.info.split()[1:]
    if len(words) == 2 and words[0] in METHODS:
        return Example(block.where, words[0], words[1], body=block.text)
    if len(words) == 3 and words[0].isdigit() and words[1] in METHODS:
        return Example(block.where, words[1], words[2], status=words[0], body=block.text)
    return None


def examples() -> tuple[list[Example], list[str]]:
    """Every request and response the documentation shows, and the json blocks not labelled as
    one (each of those is a mistake: an example nobody checks)."""
    found: list[Example] = []
    unlabelled: list[str] = []
    for page in PAGES:
        for block in blocks(page):
            language = block.info.split()[0] if block.info else ""
            if language in ("sh", "bash", "shell"):
                found.extend(shell_examples(block))
            elif language == "json":
                example = json_example(block)
                if example is None:
                    unlabelled.append(f"{block.where} ({block.info!r})")
                else:
                    found.append(example)
    return found, unlabelled


EXAMPLES, UNLABELLED = examples()


def operation(method: str, target: str) -> tuple[str, dict]:
    """The OpenAPI path template and operation a call is made to (a literal path wins)."""
    parts = urlsplit(target).path.rstrip("/").split("/")
    fits = []
    for template, operations in OPENAPI["paths"].items():
        pattern = template.split("/")
        if len(pattern) == len(parts) and method.lower() in operations:
            if all(
                p == s or (p.startswith("{") and p.endswith("}")) for p, s in zip(pattern, parts, strict=True)
            ):
                fits.append((template.count("{"), template))
    assert fits, f"no operation {method} {target} in openapi/openapi.json"
    template = min(fits)[1]
    return template, OPENAPI["paths"][template][method.lower()]


def pointer(*parts: str) -> str:
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


def validator(*parts: str, formats: bool = True) -> Draft202012Validator:
    """A validator for the schema at this place in the OpenAPI document, its $refs resolved;
    `formats` makes `format` an assertion (times with offsets, uuids, dates), not only a note."""
    ref = "urn:rj:openapi#" + quote(pointer(*parts), safe="/~")
    checker = Draft202012Validator.FORMAT_CHECKER if formats else None
    return Draft202012Validator({"$ref": ref}, registry=REGISTRY, format_checker=checker)


VARIABLE = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def filled(example: Example) -> object:
    """The example's body as JSON, each shell variable given its sample value."""
    assert example.body is not None
    unknown = sorted({m.group(1) for m in VARIABLE.finditer(example.body)} - SAMPLES.keys())
    assert not unknown, f"{example.where}: give {unknown} a sample value in SAMPLES"
    text = VARIABLE.sub(lambda m: SAMPLES[m.group(1)], example.body)
    try:
        return json.loads(text)
    except json.JSONDecodeError as bad:
        raise AssertionError(f"{example.where}: the body is not JSON: {bad}") from None


def problems(check: Draft202012Validator, body: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or 'body'}: {e.message}" for e in check.iter_errors(body)]


class TestExamples:
    def test_every_json_block_is_labelled_as_a_request_or_a_response(self) -> None:
        assert not UNLABELLED, (
            "label each ```json block `json METHOD /path` (a request body) or "
            f"`json STATUS METHOD /path` (a response): {UNLABELLED}"
        )

    def test_the_documentation_shows_requests_to_check(self) -> None:
        pages = {e.where.split(":")[0] for e in EXAMPLES if e.body or e.body_file}
        assert {"README.md", "docs/api.md", "docs/integration.md", "docs/mediation.md"} <= pages

    @pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
    def test_calls_an_operation_the_api_has_with_its_own_query_names(self, example: Example) -> None:
        _template, op = operation(example.method, example.target)
        names = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        asked = {name for name, _value in parse_qsl(urlsplit(example.target).query)}
        assert asked <= names, f"{example.where}: {sorted(asked - names)} are not query parameters"

    @pytest.mark.parametrize("example", [e for e in EXAMPLES if e.status is None], ids=lambda e: e.id)
    def test_a_request_body_validates_against_its_operation(self, example: Example) -> None:
        template, op = operation(example.method, example.target)
        schema = op.get("requestBody", {}).get("content", {}).get("application/json")
        if example.body is None and example.body_file is None:
            assert not op.get("requestBody", {}).get("required"), f"{example.where}: the body is missing"
            return
        assert schema is not None, f"{example.where}: {example.method} {template} takes no JSON body"
        if example.body_file is not None:
            path = REPO / example.body_file
            if not path.exists():
                pytest.skip(f"{example.body_file} is not in this checkout")
            body = json.loads(path.read_text())
        else:
            body = filled(example)
        parts = ("paths", template, example.method.lower(), "requestBody", "content", "application/json")
        # A file is another system's payload as it sends it: its shape and types must fit, while
        # `format` stays a note, as JSON Schema has it (the prison systems' `date-time` includes
        # local times without an offset). The service's own examples keep every format.
        check = validator(*parts, "schema", formats=example.body_file is None)
        found = problems(check, body)
        assert not found, f"{example.where}: {found}"

    @pytest.mark.parametrize("example", [e for e in EXAMPLES if e.status is not None], ids=lambda e: e.id)
    def test_a_response_validates_against_its_answer(self, example: Example) -> None:
        template, op = operation(example.method, example.target)
        answer = op["responses"].get(example.status)
        assert answer is not None, f"{example.where}: {template} never answers {example.status}"
        media = next(m for m in answer["content"] if m.endswith("json"))
        parts = ("paths", template, example.method.lower(), "responses", example.status, "content", media)
        found = problems(validator(*parts, "schema"), filled(example))
        assert not found, f"{example.where}: {found}"


class TestLinks:
    @pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
    def test_every_relative_link_leads_to_a_file_and_heading_that_exist(self, page: Path) -> None:
        broken = []
        for n, line in enumerate(prose(page), start=1):
            for target in re.findall(r"\]\(([^)\s]+)\)", line):
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue  # a web address
                path, _, anchor = target.partition("#")
                to = (page.parent / unquote(path)).resolve() if path else page
                if not to.exists() or REPO not in to.parents and to != REPO:
                    broken.append(f"{n}: {target} (no such file)")
                elif anchor and anchor not in slugs(to):
                    broken.append(f"{n}: {target} (no such heading)")
        assert not broken, f"{page.relative_to(REPO)}: {broken}"


def configured() -> set[str]:
    """The environment variables the service reads: each setting, and any read outside them."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias or field.alias
        names.add(alias.upper() if isinstance(alias, str) else (prefix + name).upper())
    read = re.compile(r"(?:environ\.get|getenv|environ\[)\(?\s*[\"'](RJ_[A-Z0-9_]+)")
    for source in (REPO / "app").rglob("*.py"):
        names.update(read.findall(source.read_text()))
    return names


def table_rows(text: str) -> list[list[str]]:
    """The names in the first cell of each row of the text's tables (header rows aside)."""
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|\s*(variable|-+)\s*\|", line):
            rows.append(re.findall(r"`(RJ_[A-Z0-9_]+)`", line.split("|")[1]))
    return rows


class TestConfigurationTable:
    def test_each_row_names_one_variable(self) -> None:
        rows = table_rows(section(DOCS / "operations.md", "Configuration"))
        assert rows and all(len(names) == 1 for names in rows), [r for r in rows if len(r) != 1]

    def test_the_rows_name_exactly_the_settings_the_service_reads(self) -> None:
        rows = [names[0] for names in table_rows(section(DOCS / "operations.md", "Configuration")) if names]
        expected = configured()
        assert not (expected - set(rows)), f"settings missing from the table: {sorted(expected - set(rows))}"
        assert not (set(rows) - expected), f"rows for no setting: {sorted(set(rows) - expected)}"
        assert not [n for n, k in Counter(rows).items() if k > 1], "a variable has two rows"


class TestEventTypes:
    def test_the_integration_page_lists_every_event_type_the_service_sends(self) -> None:
        text = section(DOCS / "integration.md", "Out: the events feed")
        listed = [
            found.group(1)
            for line in text.splitlines()
            if (found := re.match(r"^\|\s*`(restorative-justice\.[a-z.-]+)`\s*\|", line))
        ]
        assert sorted(listed) == sorted(OUTBOUND_TYPES)
        assert len(set(listed)) == len(listed), "an event type has two rows"


class TestWorkflowDiagram:
    def test_the_diagram_in_the_workflow_page_is_the_tables(self) -> None:
        diagrams = [b.text for b in blocks(DOCS / "workflow.md") if b.info == "mermaid"]
        assert mermaid_compact() in diagrams


def walk_through() -> str:
    """The README's first case as one script, with `RJ` and `KEY` left to the environment."""
    text = section(README, "A first case")
    scripts = [b.text for b in blocks(README) if b.info == "sh" and b.text in text]
    return "\n".join(line for line in "\n".join(scripts).splitlines() if not re.match(r"^(RJ|KEY)=", line))


class TestTheFirstCase:
    async def test_the_readme_walk_through_runs_to_a_closed_case(
        self, api: Api, database_url: str, tmp_path: Path
    ) -> None:
        missing = [tool for tool in ("curl", "jq", "bash") if shutil.which(tool) is None]
        if missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"the README's walk-through needs {missing}")
            pytest.skip(f"the README's walk-through needs {missing}")
        await api.rep()  # an active rep in MDI for the walk-through to find
        with Server(database_url, log=tmp_path / "server.log") as server:
            env = {**os.environ, "RJ": server.url, "KEY": api.keys.practitioner.token}
            run = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", walk_through()],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
        assert run.returncode == 0, f"{run.stdout[-4000:]}\n{run.stderr[-4000:]}"
        case = json.loads((tmp_path / "answer.json").read_text())
        assert (case["state"], case["outcome"]) == ("closed", "resolved")
        r = await api.client.get(f"/cases/{case['id']}/timeline", headers=api.keys.practitioner.headers)
        actions = [entry["action"] for entry in r.json()]
        told = ("case.referred", "case.accept", "consent.recorded", "case.updated", "assignment.changed")
        assert set(told) <= set(actions)
        assert actions[-1] == "case.close"
        r = await api.client.get("/audit/verify", headers=api.keys.auditor.headers)
        assert r.json()["valid"] is True
