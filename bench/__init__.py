"""`make bench`: figures for the README, measured on real gunicorn and PostgreSQL."""
