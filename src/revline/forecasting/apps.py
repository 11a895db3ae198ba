from django.apps import AppConfig


class ForecastingConfig(AppConfig):
    name = "revline.forecasting"
    label = "forecasting"
    verbose_name = "Forecasting"
