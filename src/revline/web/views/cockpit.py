"""Web views: cockpit."""

urlpatterns: list = []
