"""``make conformance``: the recorded plans against upstream truth at the pinned versions.

The contract a check module follows is in :mod:`tools.conformance.base`; the modules the
runner uses are listed in :mod:`tools.conformance.registry`.
"""
