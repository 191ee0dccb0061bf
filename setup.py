"""Installs espnet_ddp: dynamic data pruning and time-wise dropping for ESPnet2 ASR training."""

from setuptools import find_packages, setup

setup(
    name="espnet_ddp",
    version="0.1.0",
    description="Dynamic data pruning (Easy2hard) and time-wise dropping for ESPnet2 ASR training",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["espnet_ddp", "espnet_ddp.*"]),
    python_requires=">=3.10",
    install_requires=[
        # A lower bound only: pip keeps any newer ESPnet a user has. The tested range
        # (espnet_ddp/espnet/version_check.py: TESTED) is said at start-up, not enforced.
        "espnet>=202412",
        "editdistance",  # ESPnet's validation imports it; from 202609 only its [asr] extra has it
        "torch>=2.1",
        "torchaudio>=2.1",
        "numpy",
        "sentencepiece",
        "kaldiio",
        "pyyaml",
        "soundfile",
        "soxr",
        "matplotlib",
        "tensorboard",
    ],
    extras_require={"test": ["pytest", "ruff"]},
    entry_points={
        "console_scripts": [
            "espnet-ddp-compare=espnet_ddp.bin.compare:main",
            "espnet-ddp-python=espnet_ddp.bin.python_shim:main",
        ]
    },
)
