"""`orchbench view`: a local, read-only web viewer over a results store.

`server` (HTTP + routes), `queries` (read-only SQL), `grid` (the cell grid = `orchbench.analysis`),
`transcript` (turns, delegations, hand-back re-reads, running cost), `static/` (the page, Chart.js
vendored), `synthetic` (generated trials with transcripts for the benchmark and tests).
"""
