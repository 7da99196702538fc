"""RQ job functions. Arguments are ids only; each job loads what it needs itself."""
