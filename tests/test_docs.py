"""The README, examples/README.md and ``--help`` say what the code does: every option
has help text, the route commands name the registry's routers, the Commands table
lists every command with every option, every example is described, CI runs the
README's test command, and ``evaluate``'s default output is git-ignored."""

import argparse
import fnmatch
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from harness.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


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
    section = README.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    return section.strip().splitlines()


def test_readme_commands_table_is_one_table():
    lines = commands_section()
    rows = [i for i, line in enumerate(lines) if line.startswith("|")]
    assert rows == list(range(rows[0], rows[-1] + 1)), "a line that is not a row breaks the Commands table"


def test_readme_commands_table_lists_every_command_and_option():
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
