"""GPX, TCX and FIT exports → plain activities → runs in the journal; and the watched import folder.

`reader` picks the parser (`fit`, `gpx`, `tcx`, each imported only when needed), `importing`
stores the running legs through the Journal, `folder` rescans the import folder cheaply.
"""
