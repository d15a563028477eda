"""Exporting a classification run: one file per role, as in every task folder (see export/tasks.py)."""
