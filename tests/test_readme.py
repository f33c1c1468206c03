"""The README's Quick start and CI must not drift apart."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quick_start_commands():
    text = (ROOT / "README.md").read_text()
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", section, re.S)]


def test_quick_start_has_exactly_two_single_line_commands():
    commands = quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)


def test_ci_runs_the_readme_test_command_verbatim():
    test_command = quick_start_commands()[1]
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert "pytest" in test_command
    assert test_command in ci_lines


def test_main_job_is_the_installed_console_script():
    install_and_run = quick_start_commands()[0]
    assert install_and_run.startswith("pip install .")
    pyproject = (ROOT / "pyproject.toml").read_text()
    command = install_and_run.split("&&")[1].split()[0]
    assert f'{command} = "nesy.cli:main"' in pyproject


def test_rule_examples_in_the_readme_check():
    import nesy

    blocks = re.findall(r"```nesy\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert blocks
    for block in blocks:
        assert nesy.logic.loads(block).rules
