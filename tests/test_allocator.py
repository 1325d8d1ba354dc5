"""eegclf.allocator: the command line's malloc settings are made on glibc and left alone where the user chose."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHECK = "from eegclf.allocator import keep_freed_memory; print(keep_freed_memory())"


def _run(env_extra: dict) -> str:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_") and k != "GLIBC_TUNABLES"}
    env.pop("EEGCLF_KEEP_FREED_MEMORY", None)
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_settings_made_on_glibc_and_left_to_the_user():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert _run({}) == "True"
    assert _run({"EEGCLF_KEEP_FREED_MEMORY": "0"}) == "False"
    assert _run({"MALLOC_TOP_PAD_": "0"}) == "False"
    assert _run({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}) == "False"
