"""The training commands import the optimiser's modules in a background thread while their trials load."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from eegclf.cli.common import OPTIMIZER_IMPORTS, import_in_background
assert "torch._dynamo" not in sys.modules
import_in_background().join()
print(all(name in sys.modules for name in OPTIMIZER_IMPORTS))
import_in_background(("eegclf_no_such_module",)).join()  # a failing import stays in the thread, silent
print("ok")
"""


def test_optimizer_imports_in_the_background():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "ok"] and out.stderr == ""
