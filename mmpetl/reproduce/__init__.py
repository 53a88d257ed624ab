"""Reproducing the papers' tables: the tables and their rows (:mod:`.tables`), launching and following the rows'
runs (:mod:`.jobs`, :mod:`.checks`), and collecting their results beside the paper's (:mod:`.collect`). The command
line is ``tools/analysis_tools/reproduce.py``."""
from .tables import TABLES, Metric, Row, Table

__all__ = ['TABLES', 'Metric', 'Row', 'Table']
