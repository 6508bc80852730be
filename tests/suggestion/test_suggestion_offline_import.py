"""Importing the litellm adapter reaches nothing beyond loopback (litellm fetches a price list otherwise)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

# Runs in a fresh interpreter: blocks and records every lookup or connection that is not loopback,
# imports the adapter, then waits a moment for any background fetch thread.
SCRIPT = """
import ipaddress, socket, sys, time

attempts = []

def loopback(host):
    try:
        return host in (None, "localhost") or ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False

real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

def connect(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6) and not loopback(address[0]):
        attempts.append(f"connect {address}")
        raise OSError("blocked")
    return real_connect(self, address)

def getaddrinfo(host, *args, **kwargs):
    if not loopback(host):
        attempts.append(f"lookup {host}")
        raise socket.gaierror("blocked")
    return real_getaddrinfo(host, *args, **kwargs)

socket.socket.connect, socket.getaddrinfo = connect, getaddrinfo
__import__(sys.argv[1])
time.sleep(0.5)
print("ATTEMPTS", attempts)
"""

ROOT = Path(__file__).resolve().parents[2]


def run_import(module: str, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LITELLM_")}
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, module],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def test_importing_the_adapter_fetches_nothing() -> None:
    assert run_import("services.suggestion.llm") == "ATTEMPTS []"


def test_the_guard_would_notice_a_fetch() -> None:
    # litellm on its own tries to download its price map: the guard above sees it.
    assert "raw.githubusercontent.com" in run_import("litellm")
