"""``callsync report``: which calls are missing in which tool, and why (issue 11).

Read only from callsync's own database. The public API (the ``callsync demo`` command uses it):
:func:`build_report` builds the :class:`CoverageReport` model, :func:`print_report` renders it
with rich, :func:`write_html` writes one self-contained HTML page, and
:meth:`CoverageReport.to_dict` is what ``--json`` prints.
"""

from __future__ import annotations

from syncer.report.html import write_html
from syncer.report.model import CoverageReport
from syncer.report.query import build_report
from syncer.report.terminal import print_report

__all__ = ["CoverageReport", "build_report", "print_report", "write_html"]
