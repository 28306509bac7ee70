"""The job's Java decoding function (flink_jobs/udf): its JUnit tests, run by Maven into a scratch build
directory (never the jar in .state/lib that running jobs load). They check the per-schema fast decoder
against the generic Avro decoding it replaced, row for row and error for error (about 30 s, most of it
Maven and the compiler). `make setup` builds the jar without running them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from streampulse.settings import REPO_ROOT

pytestmark = pytest.mark.flinksql


def test_decoder_junit_tests_pass(tmp_path):
    if shutil.which("mvn") is None or shutil.which("java") is None:
        pytest.skip("no Maven or Java: `make setup` installs them")
    cmd = ["mvn", "-q", "-B", "-f", str(REPO_ROOT / "flink_jobs/udf/pom.xml"), f"-Dstreampulse.lib={tmp_path}", "test"]
    result = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
