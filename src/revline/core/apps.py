from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "revline.core"
    label = "core"
    verbose_name = "Core"
