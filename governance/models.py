"""Models of the governance app, gathered from its sub-packages so Django finds them."""

from governance.access.models import ApiToken, Team, User
from governance.data.models import (
    ConsentEvent,
    ConsentImport,
    Dataset,
    DatasetSubject,
    DatasetVersion,
    LineageLink,
    LineageRun,
    OpenLineageEvent,
    PersonalRecord,
    Purpose,
    QualityFinding,
    Subject,
    SubjectKey,
    SubjectRequest,
)
from governance.exports.models import Export, Share
from governance.trail.models import Checkpoint, Event, MerkleNode, SigningKey

__all__ = [
    "ApiToken",
    "Checkpoint",
    "ConsentEvent",
    "ConsentImport",
    "Dataset",
    "DatasetSubject",
    "DatasetVersion",
    "Event",
    "Export",
    "LineageLink",
    "LineageRun",
    "MerkleNode",
    "OpenLineageEvent",
    "PersonalRecord",
    "Purpose",
    "QualityFinding",
    "Share",
    "SigningKey",
    "Subject",
    "SubjectKey",
    "SubjectRequest",
    "Team",
    "User",
]
