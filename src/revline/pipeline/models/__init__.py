from .catalog import PriceBook, PriceBookEntry, Product
from .opportunities import Competitor, Objection, Opportunity, StageChange
from .pipelines import Pipeline, Stage
from .quotes import ApprovalRequest, DiscountPolicy, Quote, QuoteLine

__all__ = [
    "ApprovalRequest",
    "Competitor",
    "DiscountPolicy",
    "Objection",
    "Opportunity",
    "Pipeline",
    "PriceBook",
    "PriceBookEntry",
    "Product",
    "Quote",
    "QuoteLine",
    "Stage",
    "StageChange",
]
