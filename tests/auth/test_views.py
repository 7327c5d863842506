"""The one table of which view each role gets."""

from app.auth.access import VIEWS, View
from app.common.enums import Role


class TestViews:
    def test_every_kind_names_every_role(self) -> None:
        for kind, views in VIEWS.items():
            assert set(views) == set(Role), kind

    def test_reps_and_auditors_never_get_a_full_view(self) -> None:
        for kind, views in VIEWS.items():
            assert views[Role.REP] != View.FULL, kind
            assert views[Role.AUDITOR] == View.NONE, kind
