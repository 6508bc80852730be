"""The one place groundcode imports litellm, so that importing it never reaches the network.

Without the switches below, ``import litellm`` downloads its model price map from GitHub (and later the
Anthropic beta-header config and blog feed), with 5 s timeouts on a machine that has no internet. They
must be set before the first ``import litellm`` in the process, so every module gets litellm from here.
"""

from __future__ import annotations

import os
from types import ModuleType

OFFLINE_SWITCHES = (
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_BLOG_POSTS",
)


def import_litellm() -> ModuleType:
    """litellm, imported with its offline switches set and its chatty defaults turned off."""
    for switch in OFFLINE_SWITCHES:
        os.environ.setdefault(switch, "True")
    import litellm

    litellm.suppress_debug_info = True  # no "Give Feedback / Get Help" banner on every provider error
    # Token counting for model names containing "llama-3" (and a few others) would download a tokenizer
    # from the Hugging Face hub; litellm counts with its bundled tiktoken files instead.
    litellm.disable_hf_tokenizer_download = True
    return litellm
