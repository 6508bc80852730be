"""Stage work queue: the database holds each work item's state, the queue only carries its id.

Start with ``taskiq_queue.WorkService`` (wires a backend, the runner and the sweeper), built by
``groundcode.app``. This package's own import stays light: commands that never touch the queue do not pay
for taskiq and its brokers.
"""
