"""Routes of the data-governance API, under /api/v1/, in the ``api`` namespace (included by governance.api.urls)."""

from django.urls import path

from governance.data.api import uploads, views

_DV = "datasets/<slug:name>/versions/<int:number>"

urlpatterns = [
    path("datasets/", views.DatasetList.as_view(), name="dataset-list"),
    path("datasets/<slug:name>/", views.DatasetDetail.as_view(), name="dataset-detail"),
    path("datasets/<slug:name>/versions/", views.DatasetVersionList.as_view(), name="dataset-version-list"),
    path(f"{_DV}/", views.DatasetVersionDetail.as_view(), name="dataset-version-detail"),
    path(
        "datasets/<slug:name>/uploads/<int:upload_id>/",
        uploads.DatasetUploadDetail.as_view(),
        name="dataset-upload-detail",
    ),
    path(f"{_DV}/lineage", views.DatasetVersionLineage.as_view(), name="dataset-version-lineage"),
    path(f"{_DV}/coverage", views.DatasetVersionCoverage.as_view(), name="dataset-version-coverage"),
    path("lineage/runs/", views.RunList.as_view(), name="lineage-run-list"),
    path("lineage/runs/<uuid:run_id>/", views.RunDetail.as_view(), name="lineage-run-detail"),
    path("lineage/openlineage", views.OpenLineageIntake.as_view(), name="lineage-openlineage"),
    path("consent/purposes/", views.PurposeList.as_view(), name="consent-purpose-list"),
    path("consent/events/", views.ConsentEventList.as_view(), name="consent-event-list"),
    path("consent/events/bulk", views.ConsentBulkImport.as_view(), name="consent-event-bulk"),
    path("subjects/lookup", views.SubjectLookup.as_view(), name="subject-lookup"),
    path("subjects/<str:pseudonym>/", views.SubjectDetail.as_view(), name="subject-detail"),
    path("subjects/<str:pseudonym>/access", views.SubjectAccess.as_view(), name="subject-access"),
    path("subjects/<str:pseudonym>/erasure", views.SubjectErasure.as_view(), name="subject-erasure"),
    path("subjects/<str:pseudonym>/personal-data", views.SubjectPersonalData.as_view(), name="subject-personal-data"),
]
