"""Web screens of the pipeline app (filled in by the pipeline screens work)."""

urlpatterns: list = []
