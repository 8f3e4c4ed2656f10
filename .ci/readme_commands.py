#!/usr/bin/env python3
"""Print a command from README.md's Quick start block: ``main`` (first line) or ``test`` (second).

The block must hold exactly two commands; CI runs the test one, so the README stays true.
"""

import re
import sys
from pathlib import Path


def quick_start_commands(readme: str) -> list[str]:
    section = readme.split("## Quick start", 1)
    if len(section) != 2:
        raise SystemExit("README.md has no '## Quick start' section")
    block = re.search(r"```[a-z]*\n(.*?)```", section[1], re.S)
    if block is None:
        raise SystemExit("README.md's Quick start section has no fenced code block")
    commands = [line.strip() for line in block.group(1).splitlines() if line.strip()]
    if len(commands) != 2:
        raise SystemExit(f"README.md's Quick start block must hold 2 commands, has {len(commands)}")
    return commands


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "test"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    main_command, test_command = quick_start_commands(readme)
    print(main_command if which == "main" else test_command)
