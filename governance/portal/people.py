"""People and teams: an administrator adds people and teams and changes another person's role and teams.

The same actions as ``manage.py add_user`` / ``set_role`` and the sign-in provider's mapping (``do_create_user``,
``do_change_role``, ``do_create_team``), so the same rules and trail events. Only ``users:manage`` (administrators)
opens the page; nobody changes their own role or teams (the action refuses, in words, and nothing changes). No
password is set here: ``do_create_user`` without one makes an account that signs in through the organisation's
provider (docs/sso.md) or with API tokens, so there is no secret to show.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from governance.access.actions import ActionError, do_change_role, do_create_team, do_create_user
from governance.access.models import Team, User
from governance.access.roles import Role
from governance.trail.log import Actor
from governance.web.portal.access import portal_user, portal_view, refusal, set_choices
from governance.web.portal.pagination import paginate


def _team_choices() -> list[tuple[str, str]]:
    return [
        (team.slug, team.name if team.name == team.slug else f"{team.slug} ({team.name})")
        for team in Team.objects.all()
    ]


class PersonForm(forms.Form):
    """A new person: their user name, name, one role and their teams."""

    username = forms.CharField(
        label="User name", max_length=150, help_text="Letters, digits and @ . + - _ (as they sign in)."
    )
    name = forms.CharField(label="Name", max_length=150, required=False)
    role = forms.ChoiceField(label="Role", choices=Role.choices)
    teams = forms.MultipleChoiceField(
        label="Teams",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Owners and reviewers see their teams' models only.",
    )


class RoleForm(forms.Form):
    """Another person's new role and teams."""

    role = forms.ChoiceField(label="Role", choices=Role.choices)
    teams = forms.MultipleChoiceField(label="Teams", required=False, widget=forms.CheckboxSelectMultiple)


class TeamForm(forms.Form):
    slug = forms.CharField(
        label="Team name", max_length=64, help_text="Lower-case letters, digits and hyphens, e.g. credit-risk."
    )
    title = forms.CharField(label="Title", max_length=200, required=False, help_text="How people call it.")


def _with_teams(form: forms.Form) -> forms.Form:
    set_choices(form, "teams", _team_choices())
    return form


def _page(request: HttpRequest, **extra: Any) -> HttpResponse:
    status = extra.pop("status", 200)
    people = paginate(
        request,
        User.objects.select_related("external_identity").prefetch_related("teams").order_by("username"),
    )
    rows = [
        # A person linked to the organisation's provider has their role and teams from its claims at each sign-in.
        (person, sorted(team.slug for team in person.teams.all()), hasattr(person, "external_identity"))
        for person in people
    ]
    context = {
        "rows": rows,
        "page": people,
        "me": portal_user(request),
        "person_form": extra.pop("person_form", None) or _with_teams(PersonForm()),
        "team_form": extra.pop("team_form", None) or TeamForm(),
        "role_choices": Role.choices,
        "team_choices": _team_choices(),
        **extra,
    }
    return render(request, "portal/people.html", context, status=status)


@portal_view(GET="users:manage", POST="users:manage")
def people(request: HttpRequest) -> HttpResponse:
    """List everyone; POST adds a person through ``do_create_user``."""
    if request.method != "POST":
        return _page(request)
    form = _with_teams(PersonForm(request.POST))
    if not form.is_valid():
        return _page(request, person_form=form, error="Please correct the problems marked below.", status=400)
    data = form.cleaned_data
    try:
        user = do_create_user(
            username=data["username"],
            name=data["name"],
            role=data["role"],
            teams=data["teams"],
            actor=Actor.from_request(request),
        )
    except ActionError as exc:
        error, status = refusal(request, exc)
        form.add_error("username" if "user name" in error or "user named" in error else None, error)
        return _page(request, person_form=form, error=error, status=status)
    messages.success(request, f"{user.username} is added as {user.get_role_display()}.")
    return redirect("portal:people")


@portal_view(POST="users:manage")
def person_role(request: HttpRequest, pk: int) -> HttpResponse:
    """Change another person's role and teams through ``do_change_role`` (one's own is refused)."""
    person = get_object_or_404(User, pk=pk)
    form = _with_teams(RoleForm(request.POST))
    if not form.is_valid():
        errors = form.errors.items()
        problems = "; ".join(f"{form.fields[name].label}: {' '.join(map(str, said))}" for name, said in errors)
        return _page(request, error=f"{person.username}: {problems}", status=400)
    try:
        do_change_role(
            user=person,
            actor=Actor.from_request(request),
            role=form.cleaned_data["role"],
            teams=form.cleaned_data["teams"],
        )
    except ActionError as exc:
        error, status = refusal(request, exc)
        return _page(request, error=f"{person.username}: {error}", status=status)
    messages.success(request, f"{person.username}'s role and teams are changed.")
    return redirect("portal:people")


@portal_view(POST="users:manage")
def team_new(request: HttpRequest) -> HttpResponse:
    """Add a team through ``do_create_team``."""
    form = TeamForm(request.POST)
    if not form.is_valid():
        return _page(request, team_form=form, error="Please correct the problems marked below.", status=400)
    try:
        team = do_create_team(
            slug=form.cleaned_data["slug"], name=form.cleaned_data["title"], actor=Actor.from_request(request)
        )
    except ActionError as exc:
        error, status = refusal(request, exc)
        form.add_error("slug", error)
        return _page(request, team_form=form, error=error, status=status)
    messages.success(request, f"The team {team.slug} is added.")
    return redirect("portal:people")
