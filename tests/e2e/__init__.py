"""End-to-end tests: the real site in a real browser (Debian Chromium through Playwright)."""
