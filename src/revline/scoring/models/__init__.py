from .fit import FitScore, IcpRule
from .predictive import LeadScore, ScoreOverride, ScoringModel, ScoringProfile

__all__ = ["FitScore", "IcpRule", "LeadScore", "ScoreOverride", "ScoringModel", "ScoringProfile"]
