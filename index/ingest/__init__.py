"""Reading the corpus into documents, cutting them into passages, and bringing the index up to date."""
