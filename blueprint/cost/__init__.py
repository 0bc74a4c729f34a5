"""Monthly cost: estimates per stack from the configuration and the catalog's dated
prices (:mod:`blueprint.cost.estimate`), their rendering (:mod:`tools.cost.render`),
the delta between two git refs (``make cost``, :mod:`tools.cost.__main__`), and
dollars per million tokens from measured throughput (:mod:`blueprint.cost.tokens`).
"""

from blueprint.cost.estimate import ASSUMPTIONS, Estimate, Line, Share, estimate

__all__ = ["ASSUMPTIONS", "Estimate", "Line", "Share", "estimate"]
