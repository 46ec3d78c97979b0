"""Request analysis: token parts, task type, complexity, context dependency and independent subtasks."""

from gateway.analysis.analyzer import analyze, count_only
from gateway.analysis.types import TASK_TYPES, Analysis, Subtask, TokenCounts

__all__ = ["TASK_TYPES", "Analysis", "Subtask", "TokenCounts", "analyze", "count_only"]
