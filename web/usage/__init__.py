"""Usage of the voice path: what each conversation used and cost, recorded off the audio path, and quotas."""
