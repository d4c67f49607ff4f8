"""Without the soap extra, importing interlink.soap / interlink.stuf names the extra."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["interlink.soap", "interlink.stuf"])
def test_import_without_zeep_names_the_extra(module: str) -> None:
    code = f"import sys; sys.modules['zeep'] = None\ntry:\n    import {module}\nexcept ImportError as e:\n    print(e)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "pip install 'interlink[soap]'" in out.stdout, out.stdout + out.stderr
