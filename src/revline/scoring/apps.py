from django.apps import AppConfig


class ScoringConfig(AppConfig):
    name = "revline.scoring"
    label = "scoring"
    verbose_name = "Scoring"
