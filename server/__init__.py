"""How `make run` serves the site: gunicorn's settings, nginx in front of it, masked logs."""
