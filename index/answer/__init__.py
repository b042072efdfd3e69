"""From retrieved passages to a cited answer: retrieval, the learned scorer, the optional LLM and its check."""
