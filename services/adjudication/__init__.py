"""The adjudication service: researchers turn suggestions into codings (accept, reject, edit, merge, undo)."""
