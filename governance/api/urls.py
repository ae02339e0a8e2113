"""Routes of the governance API, under /api/v1/."""

from django.urls import include, path

from governance.api import exports, trail, views

app_name = "api"

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
    # Datasets, lineage, consent and subjects: the data app's own routes, in this namespace.
    path("", include("governance.data.api.urls")),
    path("exports/", exports.ExportList.as_view(), name="export-list"),
    path("exports/<int:pk>/", exports.ExportDetail.as_view(), name="export-detail"),
    path("exports/<int:pk>/download", exports.ExportDownload.as_view(), name="export-download"),
    path("shares/", exports.ShareList.as_view(), name="share-list"),
    path("shares/<int:pk>/revoke", exports.ShareRevoke.as_view(), name="share-revoke"),
    path("shares/<int:pk>/accesses", exports.ShareAccesses.as_view(), name="share-accesses"),
]
