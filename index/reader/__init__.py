"""The span reader: a question and a passage in, the answer span and a no-answer score out."""
