"""Command-line helpers for the recipes in ``egs2/``: ``python -m espnet_ddp.tools.<name>``.

Each module does one job (data preparation for one corpus, audio formatting, token lists,
scoring, ...) and imports neither ESPnet nor torch, so that a call costs well under a second.
"""
