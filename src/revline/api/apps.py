from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "revline.api"
    label = "api"
    verbose_name = "API"
