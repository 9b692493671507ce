"""Every worked experiment script (`python -m experiments.differentiable.<name> --help`) says
what it does in whole sentences (the first paragraph of its docstring) and shows the default
of every option, with a help text for each."""

import importlib
import re
import sys

import pytest

SCRIPTS = ["conservation", "darcy_inverse", "hybrid_rollout", "navier_stokes_inverse",
           "physics_informed"]  # fmt: skip


@pytest.mark.parametrize("name", SCRIPTS)
def test_help_describes_the_script_and_every_default(name, capsys, monkeypatch):
    module = importlib.import_module(f"experiments.differentiable.{name}")
    entry = getattr(module, "main", None) if not hasattr(module, "parse") else module.parse
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        entry(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    first = " ".join(module.__doc__.split("\n\n")[0].split())
    # The whole first paragraph, not its first line (argparse may wrap at a hyphen).
    assert first.endswith(".") and first.replace(" ", "") in text.replace(" ", "")
    options = re.findall(r"(--[a-z][a-z-]*) [A-Z_{]", text)
    assert len(options) >= 5
    # One "(default: ...)" per option: every option has a help text showing its default.
    assert text.count("(default:") == len(set(options)), (options, text)
