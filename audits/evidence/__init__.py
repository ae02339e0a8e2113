"""Evidence from other tools: a model version's imported result files (Inspect, garak, promptfoo,
lm-evaluation-harness, Evidently, Giskard), each validated against its tool's own format, stored by its hash, and
read into normalised measurements that the ``external`` check judges under a policy.

``formats`` is pure (file in, :class:`~audits.evidence.formats.common.ParsedEvidence` out); ``actions`` stores an
import and records its trail event; ``api`` and ``portal`` serve it on the registry's version pages.
"""
