from django.urls import include, path

from revline.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("revline.web.urls")),
]
