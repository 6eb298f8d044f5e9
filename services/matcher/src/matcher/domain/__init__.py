"""The matching engine: pure, vectorised, deterministic. See services/matcher/ENGINE.md."""

from matcher.domain.engine import MatchOutcome, Progress, match
from matcher.domain.errors import EngineError, InputError, RuleError
from matcher.domain.rules import Mapping, Pass, RuleSet, SideMapping, load_rules, parse_rules, rules_from_data
from matcher.domain.sharding import ShardPlan, plan_shards
from matcher.domain.stats import MatchStats, PassStats

__all__ = [
    "EngineError",
    "InputError",
    "Mapping",
    "MatchOutcome",
    "MatchStats",
    "Pass",
    "PassStats",
    "Progress",
    "RuleError",
    "RuleSet",
    "ShardPlan",
    "SideMapping",
    "load_rules",
    "match",
    "parse_rules",
    "plan_shards",
    "rules_from_data",
]
