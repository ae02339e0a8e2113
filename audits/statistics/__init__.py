"""Sufficient statistics of an audit, computed where the data is (issue 21).

The group checks (disparate impact, group fairness, and the recorded group metrics) need only the number of rows
in each cell of label x decision x protected values, not the rows themselves. An **engine** answers that question
with one GROUP BY: ``engines.ArrowEngine`` over a table in memory (pyarrow), ``engines.DuckDBEngine`` over
Parquet files where they lie (read in streaming, bounded memory), ``engines.PostgresEngine`` on the server. Each
gives the distinct combinations of the raw column values with their row counts, and
``evaluation.counted_evaluation`` turns those few rows into an ``Evaluation`` whose ``row_weights`` say how many
rows each stands for: the values go through the very same ``build_evaluation`` as an uploaded file's (text
spellings, the label's vocabulary, unknown tokens, every refusal), and ``cells.confusion_from_cells`` counts the
groups in integers, so the counts and every exact verdict equal the in-memory kernel's (``tests/sources``).

Checks that need rows (performance with scikit-learn's figures and ROC-AUC, data quality, scoring rates, and the
model-scored checks) read the rows through the same engine (``evaluation.source_evaluation`` says which mode, and
why). This package's ``__init__`` imports nothing: ``audits.checks.groups`` imports the pure ``cells`` module,
and the pure core may not load the engines, which import the data layer.
"""
