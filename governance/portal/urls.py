"""Portal routes: sign-in, the dashboard, data governance and the trail; the registry's and the audit engine's pages
are included from their apps."""

from django.urls import include, path

from governance.access.oidc import views as sign_in
from governance.portal import data, data_register, exports, lineage, people, tokens, trail, views

# No app_name here: governance/urls.py includes this module at "", and each app below brings its own namespace
# (portal, registry-portal, audits-portal), rather than all of them nesting under one.
portal_patterns = [
    path("", views.home, name="home"),
    # Password sign-in and the organisation's provider (governance.access.oidc, docs/sso.md).
    path("login/", sign_in.SignInView.as_view(), name="login"),
    path("logout/", sign_in.sign_out, name="logout"),
    path("data/datasets/", data.dataset_list, name="dataset-list"),
    path("data/datasets/new", data_register.dataset_new, name="dataset-new"),
    path("data/datasets/<slug:name>/versions/new", data_register.dataset_version_new, name="dataset-version-new"),
    path("data/lineage/runs/new", lineage.run_new, name="lineage-run-new"),
    path("data/datasets/<slug:name>/", data.dataset_detail, name="dataset-detail"),
    path("data/datasets/<slug:name>/versions/<int:number>/", data.dataset_version, name="dataset-version"),
    path("data/subjects/", data.subject_lookup, name="subject-lookup"),
    path("data/subjects/<str:pseudonym>/", data.subject_detail, name="subject-detail"),
    path("data/subjects/<str:pseudonym>/access", data.subject_access, name="subject-access"),
    path("data/subjects/<str:pseudonym>/erase", data.subject_erase, name="subject-erase"),
    path("trail/", trail.events, name="trail-events"),
    path("trail/events/<int:seq>/", trail.event_detail, name="trail-event"),
    path("trail/checkpoints/", trail.checkpoints, name="checkpoints"),
    path("trail/verify", trail.verify, name="trail-verify"),
    path("exports/", exports.exports, name="exports"),
    path("exports/<int:pk>/", exports.export_detail, name="export-detail"),
    path("shares/", exports.shares, name="shares"),
    path("shares/<int:pk>/", exports.share_detail, name="share-detail"),
    path("tokens/", tokens.tokens, name="tokens"),
    path("tokens/<int:pk>/revoke", tokens.token_revoke, name="token-revoke"),
    path("people/", people.people, name="people"),
    path("people/<int:pk>/role", people.person_role, name="person-role"),
    path("people/teams/new", people.team_new, name="team-new"),
]

urlpatterns = [
    path("", include((portal_patterns, "portal"))),
    path("", include("registry.portal.urls")),
    path("", include("audits.portal.urls")),
    path("sso/", include("governance.access.oidc.urls")),
]
