from django.apps import AppConfig


class PipelineConfig(AppConfig):
    name = "revline.pipeline"
    label = "pipeline"
    verbose_name = "Pipeline"
