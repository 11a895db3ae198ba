"""Web views: org_admin."""

urlpatterns: list = []
