from django.apps import AppConfig


class CrmConfig(AppConfig):
    name = "revline.crm"
    label = "crm"
    verbose_name = "CRM"
