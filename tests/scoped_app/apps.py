from django.apps import AppConfig


class ScopedAppConfig(AppConfig):
    name = "tests.scoped_app"
    label = "scoped_app"
