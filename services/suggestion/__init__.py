"""Candidate-code suggestion: for each segment, ranked codes a researcher accepts or rejects.

* ``models`` — the request, the answer contract the LLM must follow, and the grounded result;
* ``prompts`` — the Jinja2 templates in ``prompts/``, versioned by content hash;
* ``grounding`` — finds each quote in the segment and drops suggestions whose quote is not there;
* ``redaction`` — masks e-mails, phone numbers and names before text goes to a remote model;
* ``cache`` — the response cache (port, in-memory and SQL implementations);
* ``llm`` — the litellm backend (the only module that imports litellm; importing it takes seconds);
* ``offline`` — the default backend without an LLM, built on ``scoring`` (relative scores, calibration
  and classifiers learnt from decisions) and ``keyphrases`` (offline labels and label merging);
* ``stage`` — the suggest stage handler: retrieval, requests, the backend, the ``suggestions`` table.
"""
