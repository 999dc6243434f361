"""The advice line: a 24/7 telemedicine advice service for palliative care at home."""

__version__ = "0.1.0"
