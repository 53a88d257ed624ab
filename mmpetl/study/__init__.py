"""The transfer study (tools/analysis_tools/transfer_study.py): plan, runs, report."""
