from django.db import models


class PeriodKind(models.TextChoices):
    MONTH = "month", "Month"
    QUARTER = "quarter", "Quarter"
    YEAR = "year", "Fiscal year"


class BudgetCategory(models.TextChoices):
    CAMPAIGNS = "campaigns", "Campaigns"
    PROMOTIONS = "promotions", "Promotions"
    INCENTIVES = "incentives", "Incentives"
    TOOLS = "tools", "Tools"
    TRAVEL = "travel", "Travel"
    OTHER = "other", "Other"


class ForecastFigure(models.TextChoices):
    """The figures a rep submits and a manager may adjust (the deal forecast categories that are
    still open; ``closed`` is what was won, never adjusted)."""

    COMMIT = "commit", "Commit"
    BEST_CASE = "best_case", "Best case"
    PIPELINE = "pipeline", "Pipeline"


FIGURES: tuple[str, ...] = tuple(ForecastFigure.values)
