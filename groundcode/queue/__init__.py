"""Stage work queue: the database holds each work item's state, the queue only carries its id.

Start with ``WorkService`` (wires a backend, the runner and the sweeper), built by ``groundcode.app``.
"""

from groundcode.queue.ports import StageHandler, WorkQueue
from groundcode.queue.runner import Sweeper, WorkRunner
from groundcode.queue.taskiq_queue import WorkService, build_work_queue

__all__ = [
    "StageHandler",
    "Sweeper",
    "WorkQueue",
    "WorkRunner",
    "WorkService",
    "build_work_queue",
]
