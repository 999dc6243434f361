"""The consultation state machine and routing policy (pure: events in, actions out)."""
