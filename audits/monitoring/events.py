"""Trail event types of monitoring (no personal data: ids, counts, hashes, column and group names)."""

from governance.trail.events import register

_REF = ("model", "version")

MONITORING_CONFIGURED = register(
    "monitoring.configured",
    "A version's monitoring was configured: its reference dataset version, profiled once (the profile's hash).",
    fields=(*_REF, "reference", "reference_kind", "profile_sha256", "policy", "features"),
)
SOURCE_CONFIGURED = register(
    "monitoring.source_configured",
    "Where a version's production batches live was set: a partitioned source (its location, never credentials), "
    "the partition column, the first day configured (start), the next day to read and the lag after which a day "
    "is due.",
    fields=(*_REF, "location", "partition_column", "start", "next_partition", "lag_days", "enabled"),
)
BATCH_RECEIVED = register(
    "monitoring.batch_received",
    "A production batch arrived, stored as a dataset version (flagged when the version was not deployed).",
    fields=(*_REF, "batch", "dataset_version", "sha256", "rows", "deployed"),
)
LABELS_RECEIVED = register(
    "monitoring.labels_received",
    "Labels arrived for an earlier batch, stored as a dataset version; the batch is checked again.",
    fields=(*_REF, "batch", "dataset_version", "sha256", "rows"),
)
BATCH_CHECKED = register(
    "monitoring.batch_checked",
    "A batch was compared with the reference under a policy's monitoring thresholds (the results' hash) and its "
    "outcome: ok, warning, alert or insufficient_evidence.",
    fields=(*_REF, "batch", "results_sha256", "profile_sha256", "policy", "alerts", "warnings", "outcome"),
)
CHECK_FAILED = register(
    "monitoring.check_failed",
    "A batch's check could not run; an error finding is open (the message's hash; the text stays on the batch).",
    fields=(*_REF, "batch", "error_sha256"),
)
ALERT_RAISED = register(
    "monitoring.alert_raised",
    "A batch crossed a monitoring threshold: the statistic, its value, the threshold and the finding it opened "
    "or added to.",
    fields=(*_REF, "batch", "finding", "kind", "subject", "statistic", "value", "threshold", "new_finding"),
)
RETRAIN_LINKED = register(
    "finding.retrain_linked",
    "A finding resolved by retraining was linked to the next version of its model when that version arrived.",
    fields=(*_REF, "finding", "new_version"),
)
