"""REFI-QDA interchange: codebooks (.qdc) and projects (.qde, .qdpx) in and out of groundcode.

``refiqda`` holds the database-independent models and the readers and writers, ``validate`` checks XML
against the bundled XSDs, ``safe_input`` refuses hostile XML and archives, ``codebook`` maps REFI-QDA codes
to groundcode codes and back, ``mapping`` whole projects to groundcode's models and back (pure), ``projects``
reads and writes them in the database, ``cli`` is the ``groundcode codebook`` and ``groundcode project``
command groups, and ``api`` the HTTP routes.
"""
