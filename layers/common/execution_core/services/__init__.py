"""Domain services: the rules of the execution pipeline, over the repositories."""
