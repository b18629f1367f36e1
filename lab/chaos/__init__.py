"""Fault injection with recorded histories, checkers, replay and shrinking (`lab chaos`)."""
