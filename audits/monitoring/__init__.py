"""Monitoring after deployment: production batches compared with a profiled reference (data drift, prediction
drift, label drift, performance decay, live fairness), judged by the policy's ``monitoring`` thresholds; alerts
open findings on the model version.

- ``drift``: pure statistics (reference profiles, one-pass accumulators, PSI, KS, chi-square, Jensen-Shannon).
- ``batch``: reading a batch file in chunks and computing every statistic for it (pure, no Django).
- ``judge``: the policy's thresholds applied to a batch's statistics (pure).
- ``actions``: configure, upload batches and labels, run checks, open findings, notify (Django).
"""
