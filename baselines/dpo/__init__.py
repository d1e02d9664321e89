"""DPO stage: preference pairs from judged responses and TRL training."""
