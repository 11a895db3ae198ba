from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "revline.web"
    label = "web"
    verbose_name = "Web"
