"""Retrieval service: segments, codebook entries and accepted codings as vectors in Chroma, and the
searches over them (candidate codes for a segment, similar coded segments, free-text search)."""
