"""Dataset building: source loading, translation, QA, dataset assembly."""
