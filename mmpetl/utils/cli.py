"""What the command-line tools share."""
import argparse
import os.path as osp
from typing import Dict, Optional


def require_files(parser: argparse.ArgumentParser, files: Dict[str, Optional[str]]) -> None:
    """``parser.error`` (exit status 2, with the usage) for the first of ``files`` (what it is -> its path) that is
    not a file. ``None`` and URLs (``scheme://...``, read by mmengine's file backends) pass."""
    for what, path in files.items():
        if path is not None and '://' not in path and not osp.isfile(path):
            parser.error(f'{what} {path!r}: no such file')
