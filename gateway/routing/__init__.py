"""Quality routing: how much of the premium model's quality a cheaper model keeps on a prompt, and the pick."""

from gateway.routing.quality import Candidate, Choice, QualityRouter, allowed_loss, cheapest_adequate, reference_cost

__all__ = ["Candidate", "Choice", "QualityRouter", "allowed_loss", "cheapest_adequate", "reference_cost"]
