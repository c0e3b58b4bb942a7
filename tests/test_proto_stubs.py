"""The committed gRPC stubs are what `make proto` makes from the logger's logs.proto."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_stubs_are_fresh() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "project" / "genproto.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
