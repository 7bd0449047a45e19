"""The README's quick start, run as written: every `build/falaj …` line of its shell block runs
against a real server (with the binary under test) and must succeed, so the quick start stays
true as the commands change."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from conftest import cli

ROOT = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Quick start"):text.index("## Where to go next")]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("build/falaj "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_every_quick_start_command_succeeds(server, home, monkeypatch):
    monkeypatch.chdir(ROOT)  # the README's paths are relative to the repository
    commands = quick_start_commands()
    assert len(commands) >= 8, commands
    outputs = {}
    for args in commands:
        result = cli(args, home, {"FALAJ_URL": server.url, "FALAJ_KEY": server.key})
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        outputs[args[0] + " " + args[1]] = result.stdout
    assert "accepted_with_quarantine" in outputs["sources ingest"]
    online = outputs["features online"]
    # customer 1's latest payment is 310.00 in category 5732; customer 3's rows were quarantined.
    assert "310" in online and "5732" in online and "NOT_FOUND" in online
