"""A worker process for the kill tests: ``python worker_process.py [--block-until FILE]``.

Configured like any worker through the environment (``DATABASE_URL``, ``GROUNDCODE_QUEUE``, ...).
Handles the chunk stage with ``SegmentWriter``; stops cleanly on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from pathlib import Path

from queue_test_support import SegmentWriter

from groundcode.domain import Stage
from groundcode.queue.taskiq_queue import WorkService
from groundcode.settings import Settings
from groundcode.storage.database import create_database_engine, session_factory
from groundcode.storage.work_items import WorkItemStore


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--block-until", type=Path, help="hang every item until this file exists")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="worker %(process)d %(levelname)s %(name)s: %(message)s")
    logging.getLogger("taskiq").setLevel(logging.WARNING)  # it logs every message at INFO
    settings = Settings()
    engine = create_database_engine(settings.resolved_database_url())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    sessions = session_factory(engine)
    handler = SegmentWriter(sessions, block_until=args.block_until)
    try:
        async with WorkService(
            settings, WorkItemStore(sessions), {Stage.CHUNK: handler}, consume=[Stage.CHUNK]
        ):
            await stop.wait()
    finally:
        engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
