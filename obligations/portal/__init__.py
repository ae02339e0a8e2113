"""The obligations portal page: a version's compliance status, with the officer's decision form."""
