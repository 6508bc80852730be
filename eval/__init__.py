"""groundcode's evaluation suite: published codebooks as gold data, tasks that run the real services,
agreement metrics, and reports (``groundcode eval``)."""
