"""Web views: account."""

urlpatterns: list = []
