"""adbandit's experiments: simulations, A/B and bandit tests, tracking (in progress)."""
