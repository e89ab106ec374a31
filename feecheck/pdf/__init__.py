"""PDF output with ReportLab only: report data in, bytes out, set in an embedded Chinese font.

`fonts` finds and registers the font, `layout` holds the building blocks and `build`; the
documents themselves (`report`, `notice`) render the data classes of `documents`.
"""
