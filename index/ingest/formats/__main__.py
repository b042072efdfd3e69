"""`python -m index.ingest.formats`: the README's table of formats, from the registry."""

from index.ingest.formats import format_table

print(format_table())
