"""Assay's test suite."""

import os
from pathlib import Path

# Known-answer data from outside the project: the workplace's public data sets (see SOURCES.md there), found by
# absolute path so a clone anywhere (CI's) reads the same files.
KNOWN_ANSWER_DATA = Path(os.environ.get("ASSAY_KNOWN_ANSWER_DATA", "/work/shared/data"))

# UCI Adult's columns, in the order of adult.data (it has no header row).
ADULT_COLUMNS = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income",
)
