"""Measuring answers on labelled questions, and fitting the answer scorer on them."""
