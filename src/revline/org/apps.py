from django.apps import AppConfig


class OrgConfig(AppConfig):
    name = "revline.org"
    label = "org"
    verbose_name = "Organisation"
