"""Sentry set-up, the privacy scrubber, sentry-check, logging and the release name."""
