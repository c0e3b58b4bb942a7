"""Generate the gRPC stubs from the logger's logs.proto into the logger and the broker packages.

`python project/genproto.py` writes them; `--check` fails when the committed files differ from a fresh run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "logger-service" / "logger" / "logs.proto"
TARGETS = (ROOT / "logger-service" / "logger", ROOT / "broker-service" / "broker")
FILES = ("logs_pb2.py", "logs_pb2_grpc.py")


def generate() -> dict[str, str]:
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"-I{PROTO.parent}",
                f"--python_out={out}",
                f"--grpc_python_out={out}",
                PROTO.name,
            ],
            check=True,
        )
        texts = {name: (Path(out) / name).read_text() for name in FILES}
    # The stubs live inside a package, so the grpc module imports its messages relatively.
    texts["logs_pb2_grpc.py"] = texts["logs_pb2_grpc.py"].replace(
        "\nimport logs_pb2 as logs__pb2", "\nfrom . import logs_pb2 as logs__pb2"
    )
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed stubs are stale")
    args = parser.parse_args()
    texts = generate()
    stale = []
    for target in TARGETS:
        for name, text in texts.items():
            path = target / name
            if args.check:
                if not path.exists() or path.read_text() != text:
                    stale.append(str(path.relative_to(ROOT)))
            else:
                path.write_text(text)
    if stale:
        print("stale gRPC stubs, run `make proto` in project/:", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
