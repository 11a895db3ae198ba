from .runs import BacktestRun, DealPrediction, ForecastRun, NewDealExpectation, RunStatus

__all__ = ["BacktestRun", "DealPrediction", "ForecastRun", "NewDealExpectation", "RunStatus"]
