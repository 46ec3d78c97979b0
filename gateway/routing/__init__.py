"""Quality routing: how much of the premium model's quality a cheaper model keeps on a prompt, and the pick."""

from gateway.routing.quality import Candidate, Choice, QualityRouter, cheapest_adequate

__all__ = ["Candidate", "Choice", "QualityRouter", "cheapest_adequate"]
