"""Assay's test suite."""

import os
from pathlib import Path

# Known-answer data from outside the project: public data sets vendored in the repository (their sources, licences
# and checksums are in SOURCES.md there), so a fresh clone anywhere reads the same bytes. ASSAY_KNOWN_ANSWER_DATA may
# name another folder holding the same files.
KNOWN_ANSWER_DATA = Path(os.environ.get("ASSAY_KNOWN_ANSWER_DATA") or Path(__file__).with_name("known_answer_data"))

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

# The same columns as adult.names spells them (hyphens), for tests that read or write the file's own header.
ADULT_NAMES_COLUMNS = [name.replace("_", "-") for name in ADULT_COLUMNS]
