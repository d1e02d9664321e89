"""Critical-error stage: detectors, the store scan and their CLI."""
