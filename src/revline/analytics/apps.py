from django.apps import AppConfig


class AnalyticsConfig(AppConfig):
    name = "revline.analytics"
    label = "analytics"
    verbose_name = "Analytics"
