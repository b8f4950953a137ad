"""Batches: a job list of patients into personalised packets, resumable."""
