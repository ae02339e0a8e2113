"""Routes of the governance API, under /api/v1/."""

from django.urls import path

from governance.api import data, exports, trail, views

app_name = "api"

_DV = "datasets/<slug:name>/versions/<int:number>"

urlpatterns = [
    path("", views.ApiRoot.as_view(), name="root"),
    path("me", views.Me.as_view(), name="me"),
    path("teams/", views.TeamList.as_view(), name="team-list"),
    path("teams/<slug:slug>/", views.TeamDetail.as_view(), name="team-detail"),
    path("tokens/", views.TokenList.as_view(), name="token-list"),
    path("tokens/<int:pk>/", views.TokenDetail.as_view(), name="token-detail"),
    path("trail/events/", trail.EventList.as_view(), name="trail-event-list"),
    path("trail/events/<int:seq>/", trail.EventDetail.as_view(), name="trail-event-detail"),
    path("trail/checkpoints/", trail.CheckpointList.as_view(), name="trail-checkpoint-list"),
    path("trail/checkpoints/latest", trail.LatestCheckpoint.as_view(), name="trail-checkpoint-latest"),
    path("trail/proofs/inclusion", trail.InclusionProof.as_view(), name="trail-proof-inclusion"),
    path("trail/proofs/consistency", trail.ConsistencyProof.as_view(), name="trail-proof-consistency"),
    path("datasets/", data.DatasetList.as_view(), name="dataset-list"),
    path("datasets/<slug:name>/", data.DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<slug:name>/versions/", data.DatasetVersionList.as_view(), name="dataset-version-list"),
    path(f"{_DV}/", data.DatasetVersionDetail.as_view(), name="dataset-version-detail"),
    path(f"{_DV}/lineage", data.DatasetVersionLineage.as_view(), name="dataset-version-lineage"),
    path(f"{_DV}/coverage", data.DatasetVersionCoverage.as_view(), name="dataset-version-coverage"),
    path("lineage/runs/", data.RunList.as_view(), name="lineage-run-list"),
    path("lineage/runs/<uuid:run_id>/", data.RunDetail.as_view(), name="lineage-run-detail"),
    path("lineage/openlineage", data.OpenLineageIntake.as_view(), name="lineage-openlineage"),
    path("consent/purposes/", data.PurposeList.as_view(), name="consent-purpose-list"),
    path("consent/events/", data.ConsentEventList.as_view(), name="consent-event-list"),
    path("consent/events/bulk", data.ConsentBulkImport.as_view(), name="consent-event-bulk"),
    path("subjects/lookup", data.SubjectLookup.as_view(), name="subject-lookup"),
    path("subjects/<str:pseudonym>/", data.SubjectDetail.as_view(), name="subject-detail"),
    path("subjects/<str:pseudonym>/access", data.SubjectAccess.as_view(), name="subject-access"),
    path("subjects/<str:pseudonym>/erasure", data.SubjectErasure.as_view(), name="subject-erasure"),
    path("subjects/<str:pseudonym>/personal-data", data.SubjectPersonalData.as_view(), name="subject-personal-data"),
    path("exports/", exports.ExportList.as_view(), name="export-list"),
    path("exports/<int:pk>/", exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/download", exports.ExportDownload.as_view(), name="export-download"),
    path("shares/", exports.ShareList.as_view(), name="share-list"),
    path("shares/<int:pk>/revoke", exports.ShareRevoke.as_view(), name="share-revoke"),
    path("shares/<int:pk>/accesses", exports.ShareAccesses.as_view(), name="share-accesses"),
]
