"""KPI definitions and the queries behind the cockpits."""
