"""Evidence for a pruning run: read experiment directories, compare them, plot them.

Layout, one job per module:

- ``timespan``: ESPnet's human-readable durations -> seconds.
- ``train_log``: ESPnet's ``train.log`` -> per-epoch statistics and wall-clock times.
- ``pruning_log``: the plugin's ``data_pruning/epoch<N>.json`` files -> per-epoch records.
- ``read_results_md``: ESPnet's ``RESULTS.md`` -> error rates per decode tag and test set.
- ``strategy``: ``config.yaml`` -> strategy name and settings.
- ``experiment``: everything above for one directory, with notes for what is missing.
- ``table``: experiments -> comparison rows (speed-up against a baseline), sample-rate tables.
- ``markdown``: rows -> Markdown; ``plots``: experiments -> PNG figures.
"""
