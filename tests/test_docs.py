"""The README, docs/, examples/README.md and ``--help`` say what the code does: every
option has help text, the route commands name the registry's routers, the Commands table
(docs/commands.md) lists every command with every option, every example is described, CI
runs the README's test command, ``evaluate``'s default output is git-ignored, the README
stays a front door (at most 150 lines), and in every page each relative link reaches a
file (and heading) and each ``python -m harness`` command of a shell block parses."""

import argparse
import fnmatch
import re
import shlex
import shutil
import subprocess

import pytest
from support import ROOT

from harness.cli import build_parser

README = (ROOT / "README.md").read_text()
COMMANDS = (ROOT / "docs" / "commands.md").read_text()
PAGES = sorted([ROOT / "README.md", ROOT / "examples" / "README.md", *(ROOT / "docs").rglob("*.md")])


def leaf_parsers(parser: argparse.ArgumentParser, path=()):
    """(command path, parser) of every command that takes options, e.g. (("route", "eval"), p)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        yield path, parser
    for sub in subs:
        for name, child in sub.choices.items():
            yield from leaf_parsers(child, (*path, name))


def options(parser: argparse.ArgumentParser):
    return [a for a in parser._actions if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]


def test_every_option_of_every_command_has_help():
    missing = [f"{' '.join(path)} {'/'.join(a.option_strings) or a.dest}"
               for path, p in leaf_parsers(build_parser()) for a in options(p)
               if not (a.help or "").strip() or a.help == argparse.SUPPRESS]
    assert not missing, f"options without help text: {missing}"


def test_every_command_has_help():
    def walk(parser, path=()):
        for sub in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
            described = {c.dest for c in sub._choices_actions if (c.help or "").strip()}
            for name, child in sub.choices.items():
                yield (*path, name), name in described
                yield from walk(child, (*path, name))

    assert [" ".join(path) for path, ok in walk(build_parser()) if not ok] == []


@pytest.mark.parametrize("command", [["route"], ["route", "train"], ["route", "eval"], ["route", "compare"]])
def test_route_help_names_every_router(command, capsys):
    from routers import ROUTERS

    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([*command, "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # undo the line wrapping
    assert ", ".join(ROUTERS) in text
    assert "{router names}" not in text


def test_benchmarks_validate_applies_its_memory_option(monkeypatch):
    """An option the help lists does something: `benchmarks validate --memory-mb` was
    accepted and ignored (every program got the default 1024 MB)."""
    import harness.score.references
    from harness.cli import main

    seen = {}

    class Stop(Exception):
        pass

    class FakeSandbox:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def run(self, requests):
            seen["limits"] = {r.limits.memory_mb for r in requests}
            raise Stop

    def fake_get_sandbox(name, workers, memory_mb=None):
        seen["sandbox"] = memory_mb
        return FakeSandbox()

    monkeypatch.setattr(harness.score.references, "get_sandbox", fake_get_sandbox)
    with pytest.raises(Stop):
        main(["benchmarks", "validate", "--dataset", "humaneval", "--limit", "2", "--memory-mb", "256"])
    assert seen == {"sandbox": 256, "limits": {256}}


def commands_section() -> list[str]:
    section = COMMANDS.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return section.strip().splitlines()


def test_commands_table_is_one_table():
    lines = commands_section()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert rows == list(range(rows[0], rows[-1] + 1)), "a line that is not a row breaks the Commands table"


def test_commands_table_lists_every_command_and_option():
    rows = [line.split("` |", 1)[0] for line in commands_section() if line.startswith("| `python -m harness ")]
    problems = []
    for path, parser in leaf_parsers(build_parser()):
        usage = " ".join(("| `python -m harness",) + path)
        row = [r for r in rows if r == usage or r.startswith(usage + " ")]
        if len(row) != 1:
            problems.append(f"{' '.join(path)}: {len(row)} rows")
            continue
        words = set(re.findall(r"--[a-z][a-z0-9-]*", row[0]))
        problems += [f"{' '.join(path)}: {opt} not in its row" for a in options(parser)
                     for opt in a.option_strings[-1:] if opt not in words]
    assert not problems, problems


def test_examples_readme_describes_every_example():
    text = (ROOT / "examples" / "README.md").read_text()
    files = [p.name for p in sorted((ROOT / "examples").iterdir())
             if p.is_file() and not fnmatch.fnmatch(p.name, "*_results.jsonl")]  # evaluate's output, git-ignored
    assert files
    assert [name for name in files if f"`{name}`" not in text] == []


def bash_block_after(heading_text: str) -> str:
    rest = README.split(heading_text, 1)[1]
    return rest.split("```bash\n", 1)[1].split("\n```", 1)[0]


def test_ci_runs_the_readmes_test_command():
    command = bash_block_after("Run the tests")
    assert "pytest" in command and "CMAKE_ARGS=" in command and "python3 -m venv" in command
    assert command in (ROOT / ".ci" / "run").read_text()


def test_readme_commands_install_into_a_virtualenv():
    main = bash_block_after("Run the main job")
    venv = "python3 -m venv /tmp/codeharness && . /tmp/codeharness/bin/activate && "
    assert main.startswith(venv) and bash_block_after("Run the tests").startswith(venv)


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="not a git checkout")
def test_evaluates_default_output_is_git_ignored():
    out = "examples/humaneval_samples.jsonl_results.jsonl"  # the samples path + '_results.jsonl'
    proc = subprocess.run(["git", "check-ignore", "-q", "--no-index", out], cwd=ROOT)
    assert proc.returncode == 0, f"{out} is not git-ignored"


def test_readme_is_a_front_door():
    assert len(README.splitlines()) <= 150


def without_code(text: str) -> str:
    """The page without its fenced blocks (a `# comment` there is no heading, a `[x](y)` no link);
    a block fenced with four backticks may hold three-backtick ones."""
    kept, fence = [], ""
    for line in text.splitlines():
        mark = re.match(r"(`{3,}|~{3,})", line)
        if not fence and mark:
            fence = mark.group(1)
        elif fence and line.strip() == fence[0] * max(len(fence), len(line.strip())):
            fence = ""
        elif not fence:
            kept.append(line)
    return "\n".join(kept)


def anchors(page) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen, ids = {}, set()
    for heading in re.findall(r"^#+ (.+?)\s*$", without_code(page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        ids.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return ids


def test_relative_links_reach_a_file_and_heading():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", without_code(page.read_text())):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and (linked.suffix != ".md" or anchor not in anchors(linked))):
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken


def harness_commands(text: str) -> list[list[str]]:
    """The arguments of each `python -m harness` command in the page's shell blocks, up to
    the first shell operator (`&&`, `|`, `>`...)."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh)\n(.*?)^```", text, re.M | re.S):
        for words in [shlex.split(line, comments=True) for line in block.replace("\\\n", " ").splitlines()]:
            for start in [i + 3 for i in range(len(words)) if words[i:i + 3] == ["python", "-m", "harness"]]:
                end = next((i for i in range(start, len(words)) if words[i] in ("&&", "||", "|", ";", ">", "<")),
                           len(words))
                commands.append(words[start:end])
    return commands


def test_shell_commands_parse(capsys):
    wrong = []
    for page in PAGES:
        for args in harness_commands(page.read_text()):
            try:
                build_parser().parse_args(args)
            except SystemExit as exit_:
                if exit_.code:
                    wrong.append(f"{page.relative_to(ROOT)}: python -m harness {shlex.join(args)}: "
                                 f"{capsys.readouterr().err.strip()}")
    assert not wrong


def test_shell_commands_are_found():
    commands = harness_commands(README)
    assert ["sandbox", "check"] in commands and ["gate", "--baseline", ".ci/router-baseline.json"] in commands
    assert ["route", "compare", "--format", "json"] in harness_commands((ROOT / "docs" / "reports.md").read_text())


def test_layout_names_every_module():
    """docs/layout.md follows the tree: each package's section names each of its modules, and
    only modules that exist."""
    layout = (ROOT / "docs" / "layout.md").read_text()
    sections = dict(re.findall(r"^### `([\w/]+)/`\n(.*?)(?=^#|\Z)", layout, re.M | re.S))
    modules = [p.relative_to(ROOT) for layer in ("sandboxes", "benchmarks", "routers", "harness")
               for p in sorted((ROOT / layer).rglob("*.py"))]
    assert [str(m) for m in modules if f"`{m.name}`" not in sections.get(m.parent.as_posix(), "")] == []
    assert [f"{folder}/{name}" for folder, text in sections.items()
            for name in re.findall(r"`(\w+\.py)`", text) if not (ROOT / folder / name).exists()] == []
