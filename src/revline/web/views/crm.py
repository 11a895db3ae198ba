"""Web screens of the crm app (filled in by the crm screens work)."""

urlpatterns: list = []
