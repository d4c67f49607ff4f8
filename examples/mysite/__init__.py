"""The example site that `make run` serves: a few typed methods over one SQLite database."""
