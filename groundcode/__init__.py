"""groundcode: first-pass qualitative coding of interview transcripts, with the researcher in charge."""

__version__ = "0.1.0"
