"""The Triton model repository (``model_repo/``): reading, validating and describing it.

``validate`` checks every model config with Triton's own ModelConfig schema and the
blueprint's rules; ``repo`` reads the facts other parts need (latency budgets,
batching settings) so that each fact is declared once, in the model's config.
"""
