"""Plumbing every part uses: extensions, the database, errors, languages, formatting, limits."""
