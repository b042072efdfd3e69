"""Where passages, vectors and term statistics live: version folders on disk (files), or PostgreSQL (postgres)."""
