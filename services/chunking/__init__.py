"""Ingest and chunking: read an uploaded file into text and cut it into segments.

Everything in this package is pure (no database, no queue): bytes in, text and offsets out.
``readers.read_document`` extracts the text; ``segmenter.segment_document`` cuts it into spans.
"""
