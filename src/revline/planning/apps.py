from django.apps import AppConfig


class PlanningConfig(AppConfig):
    name = "revline.planning"
    label = "planning"
    verbose_name = "Planning"
