"""ruff keeps the code base clean; CI fails on a lint error."""

import subprocess
import sys

from streampulse.settings import REPO_ROOT


def test_ruff_check_is_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", str(REPO_ROOT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
