"""Reports: the weekly summary and the trends, assembled from the store and rendered as text, JSON
and a self-contained HTML page with charts (matplotlib imported only when a chart is drawn)."""
