"""The GPU benchmark of espnet_ddp, one entry point: ``bash bench/gpu/run.sh [--quick|--sweep]``.

``run.sh`` installs what an offline GPU machine lacks, then runs ``python -m gpu`` (with
``bench/`` on the path), whose :func:`gpu.__main__.main` picks the mode. One module per job:

===================  ==========================================================================
module               job
===================  ==========================================================================
``__main__``         the entry point: mode (``--quick``, ``--sweep``, else full), shared options
``quick``            the quick plan: (a), (b), (d) timed one after the other (one 9-minute call)
``sweep``            the sweep plan: 13 variants trained at once, decoded (one 9-minute call)
``full``             the full plan: baseline to its plateau, then every variant (hours)
``plan``             :class:`~gpu.plan.Plan`, the sizes, and the training YAML they fill in
``variants``         :class:`~gpu.variants.Variant`: options, epochs, schedule, checks, selection
``corpus``           config.yaml, synthesis and ESPnet's statistics (``common.build_corpus``)
``training``         the ``asr_train`` command; one run at a time, or many at once
``smi``              ``nvidia-smi`` sampling and GPU busy seconds
``figures``          per-epoch figures, medians, valid accuracy, plateaus, parameter count
``decoding``         stock ``asr_inference`` in worker processes, scoring, ``RESULTS.md``
``environment``      machine, versions and commit of a report
``report``           what the reports share: cells, ratios, banner, model sentence
``quick_report``     ``RESULTS_quick.md``: the timing table and the goal's verdict
``sweep_report``     ``RESULTS_sweep.md``: the WER table and the frontier (``espnet_ddp.report``)
``full_report``      ``RESULTS.md``: the full benchmark's table and its target
===================  ==========================================================================
"""
