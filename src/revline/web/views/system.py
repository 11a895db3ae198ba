"""Web views: system."""

urlpatterns: list = []
