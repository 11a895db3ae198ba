"""Web views: org."""

urlpatterns: list = []
