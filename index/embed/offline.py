"""Keep the Hugging Face stack from reaching for a hub: nothing may download at run time."""

import os

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray would report cluster usage to its makers
}


def stay_offline() -> None:
    """Set the offline switches unless the user chose otherwise (a user with a hub may set them to 0)."""
    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
