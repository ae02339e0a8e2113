#!/usr/bin/env python3
"""Standalone verifier for Assay's tamper-evident audit trail.

This single file is given to regulators and auditors. It needs Python 3.11+ and the
``cryptography`` package (for Ed25519), nothing else: it never imports Django or any other
part of Assay, so it can be read, reviewed and run on its own.

What the audit trail is
=======================
Every audit event is a *leaf*: a JSON object serialised with RFC 8785 (JCS) to UTF-8 bytes.
Leaves are appended to an RFC 9162 (Certificate Transparency v2) Merkle tree. Periodically
the server signs a *checkpoint* (a C2SP signed note, https://c2sp.org/tlog-checkpoint) that
commits to the tree size and the Merkle root at that size. Because the root depends on every
leaf and on their order, a checkpoint kept by an outside party makes any later deletion,
alteration, reordering or insertion of the first ``tree_size`` leaves detectable.

Hashing (RFC 9162 section 2.1)::

    leaf_hash(d)    = SHA-256(0x00 || d)
    node_hash(l, r) = SHA-256(0x01 || l || r)
    MTH({})         = SHA-256("")
    MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n])), k = largest power of two < n

Each leaf additionally carries ``seq`` (its position) and ``prev`` (hex leaf hash of the
previous leaf), so the first broken spot can be named precisely, leaf by leaf.

Export directory format (``assay-trail/1``, written by Assay's ``export_trail`` command)
=====================================================================================
``DIR/trail.json``
    ``{"format": "assay-trail/1", "origin": str, "tree_size": int, "exported_at": ISO 8601,
    "leaf_encoding": "RFC 8785 JCS, UTF-8; leaves.jsonl holds one leaf per line"}``
``DIR/leaves.jsonl``
    Line ``i`` (0-based) is exactly the bytes of leaf ``i``, followed by ``b"\\n"``. The
    newline is not part of the leaf (JCS output never contains a raw newline). Each leaf is a
    JSON object with at least ``"seq"`` (int, equal to ``i``) and ``"prev"`` (lowercase hex
    of the previous leaf's ``leaf_hash``, ``""`` for leaf 0).
``DIR/checkpoints.json``
    ``{"checkpoints": [{"tree_size": int, "note": "<signed note text>"}, ...]}`` in the order
    the checkpoints were issued.
``DIR/keys.txt``
    One verifier key (``<name>+<8 hex key id>+<base64(0x01 || Ed25519 public key)>``) per
    line: every key the log has ever used, including rotated ones.

What ``verify`` checks, in one streaming pass over the leaves:

1. every leaf is a JSON object whose ``seq`` equals its line index (else leaves were deleted,
   inserted or reordered) and whose ``prev`` is the previous leaf's hash (else the chain is
   broken); ``trail.json``'s ``tree_size`` equals the number of leaves;
2. every checkpoint is correctly signed by a trusted key and is for the expected origin;
   checkpoint sizes never decrease; none covers more leaves than the export holds; each
   root equals the Merkle root of the first ``tree_size`` leaves;
3. every checkpoint you kept from before (``--previous-checkpoint``) is correctly signed,
   covers no more leaves than the export holds ("truncated"), has the root of the export's
   first ``tree_size`` leaves ("rewritten"), and is linked to the export's latest checkpoint
   by an RFC 9162 consistency proof that this file builds from the leaves and verifies.

The trust model, in one paragraph: the export alone proves only that it is internally
consistent. Anyone who can rewrite the export can recompute every hash and, if they hold the
signing key, re-sign every checkpoint. What defeats that is (a) verifier keys obtained
independently of the export (``--trusted-keys``) and (b) checkpoints you kept from earlier
exports (``--previous-checkpoint``): a signed checkpoint can't be taken back, so a rewrite
of history it covers is caught even when the attacker holds the key.
What that cannot catch is a key holder showing you one history and others another (a split
view), or rewriting history before anyone kept a checkpoint. (c) Witnesses can: independent
parties that cosign a checkpoint only when it extends the last one they cosigned (C2SP
tlog-witness). ``--witness KEY --min-witnesses K`` fails unless K of the witnesses you name
cosigned the checkpoint (see "Witness cosignatures" below, and docs/witnesses.md).

Command line
============
::

    python verifier.py BUNDLE.zip [--trusted-keys FILE] [--previous-checkpoint NOTEFILE]...
                                  [--origin ORIGIN]          (same as: verifier.py bundle BUNDLE.zip ...)
                                  [--witness KEY]... [--min-witnesses K]
    python verifier.py verify DIR [--trusted-keys FILE] [--previous-checkpoint NOTEFILE]...
                                  [--origin ORIGIN] [--witness KEY]... [--min-witnesses K]
    python verifier.py inclusion PROOF.json [--checkpoint NOTEFILE --trusted-keys FILE]
    python verifier.py consistency PROOF.json [--first-checkpoint NOTEFILE]
                                  [--second-checkpoint NOTEFILE] [--trusted-keys FILE]
    python verifier.py gate-token TOKEN|- --trusted-keys FILE [--origin ORIGIN] [--json]
                                  [--expect-model NAME] [--expect-version N]
                                  [--expect-environment ENV] [--expect-artifact SHA256]

Exit status: 0 when everything verifies; 1 when anything does not (every problem is printed
to stderr, most precise first); 2 for usage errors or input that cannot be read.

Proof files use lowercase hex for hashes (only checkpoint notes use base64, as their format
requires)::

    inclusion:   {"leaf_index": int, "tree_size": int, "leaf_hash": hex, "proof": [hex, ...],
                  "root": hex}
    consistency: {"first_size": int, "second_size": int, "first_root": hex,
                  "second_root": hex, "proof": [hex, ...]}

Evidence bundles (``assay-bundle/1``, written by Assay's ``export_bundle``)
========================================================================
A ZIP whose last two members are ``manifest.json`` and ``manifest.sig``. The manifest is a JSON
object (no final newline) with ``"format": "assay-bundle/1"``, ``"files"`` (every other member:
``{"path", "sha256", "size"}``), ``"trail"`` (``origin``, ``checkpoint`` ``{tree_size, root,
file}``, ``events``, ``events_file``, ``proofs_file``, ``previous_checkpoint`` ``{tree_size,
file}`` or null), the export's time, scope and exporter. ``manifest.sig`` is a detached Ed25519
signature over the manifest's exact bytes, written as one signed-note signature line
(``— <key name> base64(4-byte key id || 64-byte signature)``) by the trail's key. ``events_file``
holds one leaf per line (exact bytes, as ``leaves.jsonl`` above); line *i* of ``proofs_file`` is
``{"seq", "leaf_hash", "proof": [hex, ...]}`` for the leaf on line *i*. With a previous
checkpoint comes ``trail/consistency.json`` (the consistency-proof format below).

``python verify.py BUNDLE.zip`` checks, reporting every problem: the manifest's signature by a
trusted key ("re-signed with another key" otherwise); every listed file present ("file removed"),
with its size ("file truncated") and hash ("file changed"), and no unlisted member ("extra file");
the checkpoint's signature; each event's inclusion proof against the checkpoint's root ("a proof
from another tree"); the event count against the manifest ("truncated trail"); the consistency
proof from the previous export's checkpoint ("not consistent"); and each checkpoint you kept
(``--previous-checkpoint``) against the bundle ("truncated" when it is larger, "not consistent"
when the roots differ at its size).

Exit status: 0 when all of that holds against keys you supplied (``--trusted-keys``) or keys you
accepted explicitly (``--trust-bundle-keys``, which prints the bundle's key ids and fingerprints to
compare out of band); 1 when a check failed; 2 when every check holds but only against the
bundle's own keys (which prove nothing: a forger replaces them too), or on a usage error. The
folder command ``verify`` follows the same rule with ``--trust-export-keys``, and ``inclusion``
without ``--checkpoint`` exits 2 (its root is not authenticated by anything). A damaged or
hostile ZIP is a ``FAIL`` line, never a traceback: every read is bounded (by the size the signed
manifest gives, and per line), and the trail is checked only in members whose size and hash
match the manifest.

Audit verdicts recomputed from their counts
===========================================
A signature proves that a verdict was recorded, not that it follows from the evidence. So for
every ``audits/run-<id>/results.json`` that matches the signed manifest, the verifier recomputes
the group checks' rates, ratios and threshold verdicts from the counts in them, in exact
rational arithmetic (``fractions.Fraction``, never a rounded float), and reports every
disagreement with the signed results as a ``FAIL`` naming the run, check, grouping, group and
both values. Thresholds are read from ``thresholds.<name>`` of each check: ``exact`` (``"4/5"``)
or else ``value`` read as the decimal it was written as (``0.8`` is exactly 4/5), and
``operator``, the condition a value must meet to pass (``>=`` for the four-fifths rule, which
calls adverse only a ratio "less than four-fifths", so exactly 4/5 passes; ``<=`` for a maximum
difference).

``disparate_impact``, for each grouping's rows (``count``, ``selected``, ``status``):
selection rate = selected/count; impact ratio = rate / the rate of the row marked ``reference``
(the one ``reference_group`` names); each row's decimal, and its ``*_exact`` text, must equal
these (decimals within one part in 10^9), and ``share`` must be count / the grouping's known
rows. Only rows with status ``judged`` are judged: ``passes`` must be ``ratio <operator>
threshold``, and every other row's ``passes`` null. The reference's own status is
``reference`` when it can be judged; a small or excluded reference keeps that status, and then
the other rows carry it too and nothing is judged against it. ``insufficient_small_group`` and
``excluded_small_group`` rows must be below the check's ``min_group_size`` (and judged rows at
or above it); an ``excluded_below_share`` row needs the auditor's ``exclusion_justification``
and a share of all the grouping's rows, unknowns included (``share_of_rows``: "less than 2% of
the data", 6 RCNY 5-301(d)), that does not meet ``exclude_groups_below_share``; an ``undefined`` row must really
be undefined (a reference rate of 0). The check's outcome must be ``fail`` exactly when a
judged row fails, and may be ``pass`` only when no row is ``insufficient_small_group`` or
``undefined``, each grouping compares at least two groups and the unknown category's share
(its count over all the grouping's rows, checked against ``unknown.share``) meets
``max_unknown_share`` when the policy sets one. A reference group that is not the most
selected judged group is a warning (right only when the column roles or the policy named it).

``group_fairness``, for each grouping's rows (``tp``, ``fp``, ``tn``, ``fn``; ``count`` must be
their sum): selection rate (tp+fp)/n, true positive rate tp/(tp+fn) and false positive rate
fp/(fp+tn) against the row's decimals and ``*_exact`` texts. Among the ``judged`` rows, the
demographic parity difference (largest minus smallest selection rate) and the equalized odds
difference (the larger of the TPR and FPR spreads), each over the groups whose rate is defined,
against the grouping's ``summary`` (``<name>_exact``; the decimal too when no rate is
undefined), then against ``demographic_parity_difference_max`` and
``equalized_odds_difference_max`` by their operators, against ``summary.passes``: a spread that
fails on the defined rates fails (more groups can only widen it); one that would pass while a
judged group's rate is undefined (0/0) cannot pass, it is insufficient evidence. The outcome
follows as for disparate impact.

Finally the two copies of each check in ``results.json`` (the run's ``results.checks`` and the
``checks`` rows) must agree, and the run's ``verdict`` must follow from its checks' outcomes by
Assay's rule: ``fail`` when any check fails; else ``insufficient_evidence`` when a required
check is (or none passed); else ``pass``.

Recomputing shows that a verdict follows from the counts, but an insider holding the signing
key could edit counts and verdicts together and sign the manifest again. So the results are
also tied to the trail: when an audit completes, Assay records in its ``audit.completed`` event
the SHA-256 of ``{"verdict", "results", "error"}`` in canonical JSON (sorted keys, no spaces,
UTF-8). The verifier hashes the same from ``results.json`` and compares it with that event in
``trail/events.jsonl`` (proved in the signed checkpoint like every event there): a difference
is a ``FAIL: results not as recorded``; an audit whose event is not in the bundle (a date range
can leave it out) is a warning. Results that lack the counts, statuses or operators (written before
Assay recorded them) are listed as ``WARNING: ... not recomputable: <why>``, and the ``OK``
line counts them apart: they are never reported as recomputed.

Gate tokens
===========
When Assay's approval gate passes a model version for an environment it issues a *gate token*,
which a deploy step checks offline with ``gate-token``. It is a signed note, signed by the same
key as the checkpoints, whose text is exactly these lines in this order (``-`` where there is
no value; times are RFC 3339 UTC in whole seconds; approvers are user ids, never names)::

    <trail origin>/gate
    decision pass
    model <name>
    version <n>
    artifact-sha256 <sha256 or ->
    dataset <name>/v<n> <sha256>      (or -)
    policy <name>/v<n> <canonical sha256>      (or -)
    audit <run id> <results sha256>      (or -)
    environment <environment>
    approvers <id>,<id>,...      (or -)
    issued <YYYY-MM-DDTHH:MM:SSZ>
    expires <YYYY-MM-DDTHH:MM:SSZ>
    nonce <random lowercase hex>

Its compact form (for HTTP headers and command lines) is ``assay-gate.v1.`` followed by the
base64url encoding, without padding, of the whole signed note. ``gate-token`` exits 0 when the
token is signed by a trusted key, well formed, for the origin (when ``--origin`` is given) and
not expired, and every ``--expect-...`` matches; otherwise it exits 1 and says why.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hashlib
import itertools
import json
import operator
import re
import sys
import zipfile
import zlib
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:
    import lzma
except ImportError:  # a Python built without liblzma: zipfile then refuses lzma members itself
    lzma = None  # type: ignore[assignment]

__all__ = [
    "BUNDLE_FORMAT",
    "ED25519_ALGORITHM",
    "EMPTY_ROOT",
    "EXPORT_FORMAT",
    "GATE_FIELDS",
    "GATE_NONE",
    "GATE_ORIGIN_SUFFIX",
    "GATE_TOKEN_PREFIX",
    "HASH_SIZE",
    "BundleReport",
    "Checkpoint",
    "CompactRange",
    "ExportReport",
    "GateClaims",
    "GateToken",
    "GateTokenError",
    "GetNodes",
    "InputError",
    "NodeId",
    "NotRecomputable",
    "NoteSignature",
    "Recomputation",
    "SignedNote",
    "VerificationError",
    "VerifierKey",
    "consistency_proof",
    "consistency_proof_ranges",
    "decode_gate_token",
    "ed25519_key_id",
    "encode_gate_token",
    "format_gate_time",
    "gate_claims_json",
    "gate_claims_lines",
    "gate_claims_mismatches",
    "inclusion_path_ranges",
    "inclusion_proof",
    "inclusion_proofs",
    "key_name_problem",
    "leaf_hash",
    "main",
    "node_hash",
    "note_text_problem",
    "parse_checkpoint",
    "parse_checkpoint_body",
    "parse_gate_body",
    "parse_key_file",
    "parse_note",
    "parse_signature_line",
    "parse_verifier_key",
    "range_node_ids",
    "recompute_audit",
    "results_sha256",
    "root_at",
    "root_from_leaf_hashes",
    "verify_bundle",
    "verify_checkpoint",
    "verify_consistency",
    "verify_detached_signature",
    "verify_export",
    "verify_gate_token",
    "verify_inclusion",
    "verify_note",
]

# ---------------------------------------------------------------------------------------------
# Hashing (RFC 9162 section 2.1)
# ---------------------------------------------------------------------------------------------

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""Root of the empty tree: SHA-256 of the empty string (RFC 9162 section 2.1.1)."""

# Domain-separation prefixes. Without them an interior node (64 bytes of child hashes) could be
# presented as a leaf whose data is those 64 bytes, forging a proof for a leaf that was never
# logged (the "second preimage" attack RFC 9162 section 2.1.1 closes).
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || data)`` of one leaf's bytes."""
    hasher = _sha256(_LEAF_PREFIX)
    hasher.update(data)
    return hasher.digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``.

    Both children must be 32-byte hashes: hashing anything else would silently produce a
    valid-looking hash of a tree that cannot exist.
    """
    if len(left) != HASH_SIZE or len(right) != HASH_SIZE:
        raise ValueError(f"node_hash needs two {HASH_SIZE}-byte hashes, got {len(left)} and {len(right)} bytes")
    return _sha256(_NODE_PREFIX + left + right).digest()


def _hash_children(left: bytes, right: bytes) -> bytes:
    # Unchecked node_hash for inner loops whose inputs were validated once up front.
    return _sha256(_NODE_PREFIX + left + right).digest()


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash (MTH) of a list of leaf hashes.

    Computed level by level rather than by the recursive definition: pair adjacent nodes left
    to right and carry an unpaired last node up to the next level unchanged (it is never
    duplicated, unlike Bitcoin-style trees). This yields exactly the RFC 9162 tree, whose
    left subtree is always the perfect tree over the largest power of two smaller than n,
    and it does n - 1 hashes with no recursion, so a million leaves take about a second.
    """
    level = list(hashes)
    for position, value in enumerate(level):
        if len(value) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} is {len(value)} bytes, expected {HASH_SIZE}")
    if not level:
        return EMPTY_ROOT
    sha256, prefix = _sha256, _NODE_PREFIX
    while len(level) > 1:
        paired = [sha256(prefix + left + right).digest() for left, right in zip(level[0::2], level[1::2], strict=False)]
        if len(level) % 2:  # zip stopped before the unpaired last node: carry it up
            paired.append(level[-1])
        level = paired
    return bytes(level[0])


# ---------------------------------------------------------------------------------------------
# Proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2)
# ---------------------------------------------------------------------------------------------


class VerificationError(Exception):
    """Something failed to verify; the message says what and, where possible, why."""


def _require_hash(what: str, value: object) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise VerificationError(f"{what} must be bytes, got {type(value).__name__}")
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} must be {HASH_SIZE} bytes (a SHA-256 hash), got {len(value)} bytes")
    return bytes(value)


def _require_size(what: str, value: object, error: type[Exception] = VerificationError) -> int:
    # bool is an int subclass; True as a tree size is always a bug, never intent. Verification
    # refuses with VerificationError; proof generation (a caller's bug) raises ValueError.
    if type(value) is not int:
        raise error(f"{what} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise error(f"{what} must not be negative, got {value}")
    return value


def _inclusion_proof_length(index: int, tree_size: int) -> int:
    # The path splits where the paths to `index` and to the last leaf diverge: below that
    # point every level has a sibling ("inner"), above it only levels where `index` is a
    # right child do ("border", the left-edge siblings on the right border of the tree).
    inner = (index ^ (tree_size - 1)).bit_length()
    border = (index >> inner).bit_count()
    return inner + border


def _consistency_proof_length(first_size: int, second_size: int) -> int:
    # Same decomposition for the last leaf of the first tree, minus the levels inside the
    # largest perfect subtree that ends at first_size (its hash stands for them), plus that
    # subtree's hash unless first_size is itself a power of two (then it is the first root).
    inner = ((first_size - 1) ^ (second_size - 1)).bit_length()
    border = ((first_size - 1) >> inner).bit_count()
    shift = (first_size & -first_size).bit_length() - 1
    seed_included = 0 if first_size == 1 << shift else 1
    return seed_included + (inner - shift) + border


def verify_inclusion(*, leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``tree_size`` leaves with ``root``.

    Implements RFC 9162 section 2.1.3.2. Returns ``None`` on success and raises
    :class:`VerificationError` otherwise. Note that the proof binds the leaf to ``root``, and
    only a signed checkpoint binds ``root`` to ``tree_size``: take both from one checkpoint.
    """
    index = _require_size("leaf index", index)
    tree_size = _require_size("tree size", tree_size)
    if index >= tree_size:
        raise VerificationError(f"leaf index {index} is out of range for a tree of size {tree_size}")
    current = _require_hash("leaf hash", leaf_hash)
    expected_root = _require_hash("root", root)
    path = [_require_hash(f"proof element {position}", element) for position, element in enumerate(proof)]
    expected_length = _inclusion_proof_length(index, tree_size)
    if len(path) != expected_length:
        raise VerificationError(
            f"wrong inclusion proof length: got {len(path)} hashes, but a proof for leaf {index} "
            f"in a tree of size {tree_size} has exactly {expected_length}"
        )

    # RFC 9162 2.1.3.2, step by step. fn walks up from the leaf, sn from the last leaf; the
    # tree is complete at a level exactly when fn != sn there.
    fn, sn = index, tree_size - 1
    for element in path:
        if sn == 0:  # unreachable after the length check; kept because the RFC requires it
            raise VerificationError("inclusion proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            current = _hash_children(element, current)
            if not fn & 1:
                # On the right border with no right sibling: climb until we are a right child.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            current = _hash_children(current, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check; kept because the RFC requires it
        raise VerificationError("inclusion proof is shorter than the path to the root")
    if current != expected_root:
        raise VerificationError(
            f"root mismatch: the inclusion proof for leaf {index} in a tree of size {tree_size} "
            f"leads to root {current.hex()}, not the expected {expected_root.hex()}"
        )


def verify_consistency(
    *, first_size: int, second_size: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree of ``first_size`` leaves is a prefix of the tree of ``second_size``.

    Implements RFC 9162 section 2.1.4.2, i.e. that ``second_root`` extends ``first_root`` by
    appending leaves only. Policy for the cases the RFC leaves to the caller:

    * ``first_size > second_size`` is refused (a log only grows).
    * ``first_size == second_size`` needs an empty proof and equal roots (a difference would
      be a fork: two trees of the same size).
    * ``first_size == 0`` needs an empty proof and ``first_root == EMPTY_ROOT``: every tree
      extends the empty tree, so there is nothing else to prove.

    Raises :class:`VerificationError` on failure. As with inclusion proofs, sizes are bound to
    roots only by signed checkpoints: take each (size, root) pair from one checkpoint.
    """
    first_size = _require_size("first size", first_size)
    second_size = _require_size("second size", second_size)
    first = _require_hash("first root", first_root)
    second = _require_hash("second root", second_root)
    path = [_require_hash(f"proof element {position}", element) for position, element in enumerate(proof)]
    if first_size > second_size:
        raise VerificationError(
            f"first size {first_size} is larger than second size {second_size}: a log can only grow"
        )
    if first_size == 0 and first != EMPTY_ROOT:
        raise VerificationError(
            f"first root {first.hex()} is not the root of the empty tree (SHA-256 of the empty string)"
        )
    if first_size in (0, second_size):
        _verify_trivial_consistency(first_size, second_size, first, second, path)
        return
    expected_length = _consistency_proof_length(first_size, second_size)
    if len(path) != expected_length:
        raise VerificationError(
            f"wrong consistency proof length: got {len(path)} hashes, but a proof from size "
            f"{first_size} to size {second_size} has exactly {expected_length}"
        )
    first_computed, second_computed = _roots_from_consistency_path(first_size, second_size, first, path)
    if first_computed != first:
        raise VerificationError(
            f"first root mismatch: the consistency proof from size {first_size} to {second_size} "
            f"leads to first root {first_computed.hex()}, not the expected {first.hex()}"
        )
    if second_computed != second:
        raise VerificationError(
            f"second root mismatch: the consistency proof from size {first_size} to {second_size} "
            f"leads to second root {second_computed.hex()}, not the expected {second.hex()}"
        )


def _verify_trivial_consistency(
    first_size: int, second_size: int, first: bytes, second: bytes, path: Sequence[bytes]
) -> None:
    # The two cases with nothing to prove: equal sizes, and growth from the empty tree.
    if first_size == second_size:
        if path:
            raise VerificationError(
                f"wrong consistency proof length: both sizes are {first_size}, so the proof must be "
                f"empty, got {len(path)} hashes"
            )
        if first != second:
            raise VerificationError(
                f"root mismatch: two different roots for the same tree size {first_size} "
                f"({first.hex()} and {second.hex()}): the log has forked"
            )
    elif path:
        raise VerificationError(
            f"wrong consistency proof length: every tree extends the empty tree, so the proof "
            f"must be empty, got {len(path)} hashes"
        )


def _roots_from_consistency_path(
    first_size: int, second_size: int, first: bytes, path: list[bytes]
) -> tuple[bytes, bytes]:
    # RFC 9162 2.1.4.2, step by step, for 0 < first_size < second_size and a proof of the
    # right length. When first_size is a power of two the first tree is a perfect subtree of
    # the second, so its root is the starting node and is not sent.
    if first_size & (first_size - 1) == 0:
        path = [first, *path]
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first_computed = second_computed = path[0]
    for element in path[1:]:
        if sn == 0:  # unreachable after the length check; kept because the RFC requires it
            raise VerificationError("consistency proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            first_computed = _hash_children(element, first_computed)
            second_computed = _hash_children(element, second_computed)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            # Right siblings only exist in the second tree: they are the appended leaves.
            second_computed = _hash_children(second_computed, element)
        fn >>= 1
        sn >>= 1
    if sn != 0:  # unreachable after the length check; kept because the RFC requires it
        raise VerificationError("consistency proof is shorter than the path to the root")
    return first_computed, second_computed


# ---------------------------------------------------------------------------------------------
# Tree shape, node addressing, compact ranges and proof generation
#
# The server (through merkle.py) and this verifier's export check share this code, so that
# there is exactly one implementation of how proofs are built.
# ---------------------------------------------------------------------------------------------


class NodeId(NamedTuple):
    """Address of a perfect, aligned subtree: leaves ``[index * 2**level, (index + 1) * 2**level)``.

    Level 0 nodes are leaf hashes. Only perfect subtrees have an address: their hash never
    changes once the log has grown past them, which is what makes them safe to store.
    """

    level: int
    # Shadows tuple.index() on purpose: "(level, index)" is the address everywhere else (the
    # node table's columns, RFC-style notation), and NodeId is never searched with .index().
    index: int  # type: ignore[assignment]

    @property
    def begin(self) -> int:
        """First leaf covered by this node."""
        return self.index << self.level

    @property
    def end(self) -> int:
        """One past the last leaf covered by this node."""
        return (self.index + 1) << self.level


GetNodes = Callable[[Sequence[NodeId]], Mapping[NodeId, bytes]]
"""Batched node lookup: given node addresses, return a mapping from each address to its hash.

Called at most once per proof, so a database-backed implementation is one query.
"""


def range_node_ids(begin: int, end: int) -> list[NodeId]:
    """Split the leaf range ``[begin, end)`` into the fewest perfect aligned subtrees, left to right.

    For a prefix ``[0, n)`` these are the peaks of the compact range of size ``n``; for any
    subtree of an RFC 9162 tree they are the perfect pieces whose right fold is its hash.
    """
    begin = _require_size("range begin", begin, ValueError)
    end = _require_size("range end", end, ValueError)
    if begin > end:
        raise ValueError(f"reversed leaf range [{begin}, {end}): begin is after end")
    size = end - begin
    if size and not size & (size - 1) and not begin & (size - 1):
        # A perfect, aligned subtree (most ranges of a proof): itself, one node. A fast path only; the loop
        # below gives the same answer. Building proofs for 100,000 events calls this millions of times.
        level = size.bit_length() - 1
        return [NodeId(level, begin >> level)]
    ids = []
    while begin < end:
        level = (end - begin).bit_length() - 1  # largest subtree that fits...
        if begin:
            level = min(level, (begin & -begin).bit_length() - 1)  # ...and is aligned at begin
        ids.append(NodeId(level, begin >> level))
        begin += 1 << level
    return ids


def _is_tree_node_range(begin: int, end: int) -> bool:
    # Every node [a, b) of an RFC 9162 tree starts at a multiple of the smallest power of two
    # >= b - a (the root starts at 0; a left child is perfect; a right child starts right
    # after a perfect left sibling at least as large as itself). For such ranges, and only
    # for them, the MTH equals the right fold of range_node_ids.
    size = end - begin
    return size > 0 and begin % (1 << (size - 1).bit_length()) == 0


def inclusion_path_ranges(index: int, tree_size: int) -> list[tuple[int, int]]:
    """Leaf ranges ``[a, b)`` whose hashes form the inclusion proof of leaf ``index`` (RFC 9162 PATH).

    Ordered from the leaf's sibling up to the child of the root, as the proof is sent.
    """
    index = _require_size("leaf index", index, ValueError)
    tree_size = _require_size("tree size", tree_size, ValueError)
    if index >= tree_size:
        raise ValueError(f"leaf index {index} is out of range for a tree of size {tree_size}")
    ranges = []
    low, high = 0, tree_size
    # PATH(m, D[low:high]): split at k, descend into the half holding m, and the other half's
    # hash is a proof element. Collected top-down, reversed at the end.
    while high - low > 1:
        split = low + (1 << ((high - low - 1).bit_length() - 1))
        if index < split:
            ranges.append((split, high))
            high = split
        else:
            ranges.append((low, split))
            low = split
    ranges.reverse()
    return ranges


def consistency_proof_ranges(first_size: int, second_size: int) -> list[tuple[int, int]]:
    """Leaf ranges ``[a, b)`` whose hashes form the consistency proof (RFC 9162 SUBPROOF).

    Empty when ``first_size`` is 0 or equal to ``second_size`` (see :func:`verify_consistency`).
    """
    first_size = _require_size("first size", first_size, ValueError)
    second_size = _require_size("second size", second_size, ValueError)
    if first_size > second_size:
        raise ValueError(f"first size {first_size} is larger than second size {second_size}")
    if first_size in (0, second_size):
        return []
    ranges = []
    low, high = 0, second_size
    # SUBPROOF(m, D[low:high], b): `known` is the RFC's flag b, true while D[low:high] is still
    # a prefix of the first tree's own subtree whose hash the verifier already has.
    known = True
    while first_size != high:
        split = low + (1 << ((high - low - 1).bit_length() - 1))
        if first_size <= split:
            ranges.append((split, high))
            high = split
        else:
            ranges.append((low, split))
            low = split
            known = False
    if not known:
        ranges.append((low, high))
    ranges.reverse()
    return ranges


def _hashes_for_ranges(ranges: Sequence[tuple[int, int]], get_nodes: GetNodes) -> list[bytes]:
    # Collect every node needed by every range first, so that storage is asked exactly once.
    needed: dict[NodeId, None] = {}
    pieces = []
    for begin, end in ranges:
        if not _is_tree_node_range(begin, end):
            raise ValueError(f"leaf range [{begin}, {end}) is not a node of any RFC 9162 tree")
        ids = range_node_ids(begin, end)
        pieces.append(ids)
        needed.update(dict.fromkeys(ids))
    if not needed:
        return []
    found = get_nodes(list(needed))
    hashes = []
    for ids in pieces:
        values = []
        for node in ids:
            try:
                value = found[node]
            except KeyError:
                raise LookupError(f"node store has no hash for node {node}") from None
            if len(value) != HASH_SIZE:
                raise ValueError(f"node store returned {len(value)} bytes for node {node}, expected {HASH_SIZE}")
            values.append(bytes(value))
        # Right fold: a tree node's hash is node_hash(first piece, hash of the rest).
        current = values[-1]
        for value in reversed(values[:-1]):
            current = _hash_children(value, current)
        hashes.append(current)
    return hashes


def inclusion_proof(*, index: int, tree_size: int, get_nodes: GetNodes) -> list[bytes]:
    """Build the RFC 9162 inclusion proof for leaf ``index`` in the tree of ``tree_size`` leaves.

    ``get_nodes`` is called at most once, with O(log n) node addresses.
    """
    return _hashes_for_ranges(inclusion_path_ranges(index, tree_size), get_nodes)


def inclusion_proofs(*, indices: Iterable[int], tree_size: int, get_nodes: GetNodes) -> Iterator[list[bytes]]:
    """Inclusion proofs of many leaves of one tree, in order: each equal to :func:`inclusion_proof`'s.

    Every range's hash is computed once and reused: the proofs of a dense set of leaves share most of their
    ranges (an evidence bundle proves 100,000 events at a time). ``get_nodes`` is called once per proof at most,
    and only for ranges not seen before.
    """
    hashes: dict[tuple[int, int], bytes] = {}
    for index in indices:
        ranges = inclusion_path_ranges(index, tree_size)
        missing = [r for r in ranges if r not in hashes]
        if missing:
            hashes.update(zip(missing, _hashes_for_ranges(missing, get_nodes), strict=True))
        yield [hashes[r] for r in ranges]


def consistency_proof(*, first_size: int, second_size: int, get_nodes: GetNodes) -> list[bytes]:
    """Build the RFC 9162 consistency proof from ``first_size`` to ``second_size`` leaves.

    ``get_nodes`` is called at most once, with O(log n) node addresses.
    """
    return _hashes_for_ranges(consistency_proof_ranges(first_size, second_size), get_nodes)


def root_at(tree_size: int, get_nodes: GetNodes) -> bytes:
    """Return the root of the first ``tree_size`` leaves from stored perfect nodes (one lookup)."""
    tree_size = _require_size("tree size", tree_size, ValueError)
    if tree_size == 0:
        return EMPTY_ROOT
    return _hashes_for_ranges([(0, tree_size)], get_nodes)[0]


class CompactRange:
    """The frontier of an append-only Merkle log: enough state to append and to compute the root.

    For a tree of ``size`` leaves it holds one hash per set bit of ``size``: the *peaks*, i.e.
    the perfect subtrees of the binary decomposition of ``size``, left to right (size 13 =
    8 + 4 + 1 has peaks over leaves [0, 8), [8, 12) and [12, 13)). Appending a leaf merges
    equal-sized peaks like carrying in binary addition: O(log n) worst case, about two hash
    operations amortised.
    """

    __slots__ = ("_peaks", "_size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        """Resume a range of ``size`` leaves from its peak hashes (see :meth:`peak_ids`)."""
        size = _require_size("size", size, ValueError)
        if len(peaks) != size.bit_count():
            raise ValueError(f"a compact range of size {size} has {size.bit_count()} peaks, got {len(peaks)}")
        for position, peak in enumerate(peaks):
            if len(peak) != HASH_SIZE:
                raise ValueError(f"peak {position} is {len(peak)} bytes, expected {HASH_SIZE}")
        self._size = size
        self._peaks = [bytes(peak) for peak in peaks]

    @classmethod
    def peak_ids(cls, size: int) -> list[NodeId]:
        """Addresses of the peaks of a range of ``size`` leaves, left to right."""
        return range_node_ids(0, size)

    @classmethod
    def load(cls, size: int, get_nodes: GetNodes) -> CompactRange:
        """Resume a range of ``size`` leaves by reading its peaks with one ``get_nodes`` call."""
        ids = cls.peak_ids(size)
        found = get_nodes(ids) if ids else {}
        try:
            return cls(size, [found[node] for node in ids])
        except KeyError as missing:
            raise LookupError(f"node store has no hash for peak {missing.args[0]}") from None

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Peak hashes, left (largest) to right (smallest)."""
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> list[tuple[NodeId, bytes]]:
        """Append one leaf hash; return every perfect node this completes, bottom-up.

        The first item is the leaf itself at level 0; each further item is a parent whose
        right child was just completed. Storing all of them keeps every perfect node, which
        is all that proof generation ever reads.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError(f"leaf hash is {len(leaf_hash)} bytes, expected {HASH_SIZE}")
        current = bytes(leaf_hash)
        level, index = 0, self._size
        completed = [(NodeId(0, index), current)]
        peaks = self._peaks
        # An odd index means the node is a right child: its left sibling is the last peak.
        while index & 1:
            current = _hash_children(peaks.pop(), current)
            level += 1
            index >>= 1
            completed.append((NodeId(level, index), current))
        peaks.append(current)
        self._size += 1
        return completed

    def root(self) -> bytes:
        """Root of the tree of the leaves appended so far (O(log n), no state change)."""
        if not self._peaks:
            return EMPTY_ROOT
        current = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            current = _hash_children(peak, current)
        return current

    def __repr__(self) -> str:
        return f"CompactRange(size={self._size}, root={self.root().hex()})"


# ---------------------------------------------------------------------------------------------
# C2SP signed notes and checkpoints (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint)
# ---------------------------------------------------------------------------------------------

ED25519_ALGORITHM = 0x01
"""Signature type byte of Ed25519 in C2SP signed notes."""

MAX_NOTE_SIGNATURES = 100
"""Upper bound on signature lines; the spec requires accepting at least 16."""

MAX_NOTE_BYTES = 1 << 20
"""Upper bound on a note's size, so a hostile note cannot exhaust memory or time."""

_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, SPACE
_CONTROL_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f]")
_DECIMAL = re.compile(r"[0-9]+")  # not \d: that also matches non-ASCII digits
_KEY_ID_HEX = re.compile(r"[0-9a-fA-F]{8}")
_MAX_TREE_SIZE = (1 << 64) - 1  # tree sizes are uint64 in every other implementation


def key_name_problem(name: str) -> str | None:
    """Return why ``name`` is not a valid signed-note key name, or ``None`` if it is valid.

    Key names must be non-empty and contain no Unicode space, no ``+`` (it separates the
    fields of a verifier key) and no control character.
    """
    if not name:
        return "key name is empty"
    if any(character.isspace() for character in name):
        return f"key name {name!r} contains a space character"
    if "+" in name:
        return f"key name {name!r} contains '+'"
    if _CONTROL_CHARACTER.search(name):
        return f"key name {name!r} contains a control character"
    return None


def note_text_problem(text: str) -> str | None:
    """Return why ``text`` cannot be (part of) a signed note, or ``None`` if it can.

    Notes must be valid UTF-8 without ASCII control characters other than newline; this
    rules out carriage returns, so CRLF line endings are refused rather than normalised (the
    signature covers the exact bytes).
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "note is not valid UTF-8 (it contains an unpaired surrogate)"
    match = _CONTROL_CHARACTER.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        hint = " (CRLF line endings are not allowed)" if match.group() == "\r" else ""
        return f"note contains control character U+{ord(match.group()):04X} on line {line}{hint}"
    return None


def _decode_base64(text: str, what: str) -> bytes:
    # Strict standard base64: alphabet only, correct padding, and canonical (re-encoding gives
    # the same text), so that one value has exactly one accepted spelling.
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerificationError(f"{what} is not valid base64: {text!r}") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerificationError(f"{what} is not canonical base64: {text!r}")
    return raw


def ed25519_key_id(name: str, public_key_bytes: bytes) -> bytes:
    """Return the 4-byte key id ``SHA-256(name || 0x0A || 0x01 || public key)[:4]`` (C2SP)."""
    if len(public_key_bytes) != 32:
        raise ValueError(f"Ed25519 public key must be 32 bytes, got {len(public_key_bytes)}")
    material = name.encode("utf-8") + b"\n" + bytes([ED25519_ALGORITHM]) + bytes(public_key_bytes)
    return hashlib.sha256(material).digest()[:4]


@dataclasses.dataclass(frozen=True)
class VerifierKey:
    """A trusted Ed25519 note verifier key: the key's name, its 4-byte id and 32-byte public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def text(self) -> str:
        """The key in verifier-key text form ``<name>+<hex id>+<base64(0x01 || key)>``."""
        encoded = base64.b64encode(bytes([ED25519_ALGORITHM]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Return whether ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != 64:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True

    def describe(self) -> str:
        """Short human-readable form used in messages: ``name (key id 0123abcd)``."""
        return f"{self.name} (key id {self.key_id.hex()})"


def parse_verifier_key(text: str) -> VerifierKey:
    """Parse verifier-key text ``<name>+<8 hex digits key id>+<base64(0x01 || public key)>``.

    The key id must match the name and public key, so a key cannot be relabelled. Raises
    :class:`VerificationError` if anything is off.
    """
    # Split on the first two '+' only: names cannot contain '+', but base64 can.
    name, separator, rest = text.partition("+")
    key_id_hex, separator2, encoded = rest.partition("+")
    if not separator or not separator2:
        raise VerificationError(f"verifier key {text!r} is not of the form <name>+<8 hex digits key id>+<base64 key>")
    problem = key_name_problem(name)
    if problem:
        raise VerificationError(f"verifier key {text!r}: {problem}")
    if not _KEY_ID_HEX.fullmatch(key_id_hex):
        raise VerificationError(f"verifier key {text!r}: key id {key_id_hex!r} is not 8 hex digits")
    raw = _decode_base64(encoded, f"verifier key {name!r} public key")
    if not raw or raw[0] != ED25519_ALGORITHM:
        algorithm = f"0x{raw[0]:02x}" if raw else "missing"
        raise VerificationError(
            f"verifier key {name!r}: signature type {algorithm} is not supported (only Ed25519, 0x01)"
        )
    public_key = raw[1:]
    if len(public_key) != 32:
        raise VerificationError(f"verifier key {name!r}: Ed25519 public key must be 32 bytes, got {len(public_key)}")
    key_id = bytes.fromhex(key_id_hex)
    expected_id = ed25519_key_id(name, public_key)
    if key_id != expected_id:
        raise VerificationError(
            f"verifier key {name!r}: key id {key_id.hex()} does not match the name and public key "
            f"(expected {expected_id.hex()})"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as error:
        raise VerificationError(f"verifier key {name!r}: not a valid Ed25519 public key: {error}") from None
    return VerifierKey(name=name, key_id=key_id, public_key=public_key)


def parse_key_file(text: str) -> tuple[list[VerifierKey], list[str]]:
    """Parse a file of verifier keys, one per line; blank lines and ``#`` comments are skipped.

    Returns the keys and a list of problems (one per bad line, naming the line).
    """
    keys: list[VerifierKey] = []
    problems = []
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            keys.append(parse_verifier_key(line))
        except VerificationError as error:
            problems.append(f"line {number}: {error}")
    return keys, problems


class NoteSignature(NamedTuple):
    """One signature line of a note: key name, 4-byte key id and the signature bytes."""

    name: str
    key_id: bytes
    signature: bytes

    def describe(self) -> str:
        """Short human-readable form used in messages: ``name (key id 0123abcd)``."""
        return f"{self.name} (key id {self.key_id.hex()})"


@dataclasses.dataclass(frozen=True)
class SignedNote:
    """A parsed signed note. ``body`` is the signed text, including its final newline.

    ``verified_by`` lists the trusted keys whose signatures verified (empty if not verified).
    """

    body: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[VerifierKey, ...] = ()


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A parsed checkpoint (C2SP tlog-checkpoint). ``body`` is the signed text.

    ``verified_by`` lists the trusted keys whose signatures verified (empty if not verified).
    """

    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...]
    body: str
    signatures: tuple[NoteSignature, ...]
    verified_by: tuple[VerifierKey, ...] = ()


def _note_as_text(note_text: str | bytes) -> str:
    if isinstance(note_text, (bytes, bytearray, memoryview)):
        if len(note_text) > MAX_NOTE_BYTES:
            raise VerificationError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            return bytes(note_text).decode("utf-8")
        except UnicodeDecodeError as error:
            raise VerificationError(f"note is not valid UTF-8 (byte {error.start})") from None
    if not isinstance(note_text, str):
        raise VerificationError(f"note must be str or bytes, got {type(note_text).__name__}")
    if len(note_text) > MAX_NOTE_BYTES:
        raise VerificationError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    return note_text


def parse_note(note_text: str | bytes) -> SignedNote:
    """Split a signed note into its body and signature lines, refusing anything malformed.

    Does not check signatures (see :func:`verify_note`). Raises :class:`VerificationError`.
    """
    text = _note_as_text(note_text)
    problem = note_text_problem(text)
    if problem:
        raise VerificationError(problem)
    if not text.endswith("\n"):
        raise VerificationError("note does not end with a newline")
    # The body ends at the last empty line; everything after it must be signature lines.
    split = text.rfind("\n\n")
    if split < 0:
        raise VerificationError("note has no blank line separating the text from the signatures")
    body, signature_block = text[: split + 1], text[split + 2 :]
    if not signature_block:
        raise VerificationError("note has no signature lines after the blank line")
    signatures: list[NoteSignature] = []
    for number, line in enumerate(signature_block[:-1].split("\n"), start=1):
        if len(signatures) == MAX_NOTE_SIGNATURES:
            raise VerificationError(f"note has more than {MAX_NOTE_SIGNATURES} signature lines")
        if not line.startswith(_SIGNATURE_PREFIX):
            raise VerificationError(
                f"signature line {number} does not start with an em dash (U+2014) and a space: {line!r}"
            )
        name, separator, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        problem = key_name_problem(name)
        if problem:
            raise VerificationError(f"signature line {number}: {problem}")
        if not separator or not encoded:
            raise VerificationError(f"signature line {number} has no signature after the key name")
        raw = _decode_base64(encoded, f"signature line {number}")
        if len(raw) < 5:
            raise VerificationError(
                f"signature line {number} is too short: {len(raw)} bytes, need a 4-byte key id and a signature"
            )
        signatures.append(NoteSignature(name=name, key_id=raw[:4], signature=raw[4:]))
    return SignedNote(body=body, signatures=tuple(signatures))


def _index_keys(keys: Iterable[VerifierKey]) -> dict[tuple[str, bytes], VerifierKey]:
    indexed: dict[tuple[str, bytes], VerifierKey] = {}
    for key in keys:
        other = indexed.setdefault((key.name, key.key_id), key)
        if other != key:
            # Two different public keys sharing name and id: which one signed is ambiguous.
            raise VerificationError(f"ambiguous trusted keys: two different keys are named {key.describe()}")
    return indexed


def _verified_keys(note: SignedNote, keys: Sequence[VerifierKey]) -> tuple[VerifierKey, ...]:
    known = _index_keys(keys)
    if not known:
        raise VerificationError("no trusted verifier keys were given")
    message = note.body.encode("utf-8")
    verified: list[VerifierKey] = []
    for signature in note.signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue  # the spec requires ignoring unknown keys: rotation and co-signing rely on it
        if len(signature.signature) != 64:
            raise VerificationError(
                f"signature by {key.describe()} is {len(signature.signature)} bytes; "
                f"Ed25519 signatures are 64 bytes (truncated or corrupt)"
            )
        if not key.verify(message, signature.signature):
            # The spec lets clients reject the whole note here, and we do: a known key's bad
            # signature means the text or the signature was tampered with.
            raise VerificationError(
                f"signature by {key.describe()} does not verify: the note text was altered after "
                f"signing, or the signature is corrupt"
            )
        if key not in verified:
            verified.append(key)
    if not verified:
        trusted_names = {name for name, _ in known}
        seen = []
        for signature in note.signatures:
            hint = " (a key with this name is trusted, but not this key id)" if signature.name in trusted_names else ""
            seen.append(signature.describe() + hint)
        raise VerificationError(
            "no signature by a trusted key: the note is signed only by "
            + "; ".join(seen)
            + "; trusted keys are "
            + ", ".join(key.describe() for key in known.values())
        )
    return tuple(verified)


def verify_note(note_text: str | bytes, *, keys: Sequence[VerifierKey]) -> SignedNote:
    """Parse a signed note and verify its signatures against trusted ``keys``.

    Per the C2SP spec, signatures whose (name, key id) match no trusted key are ignored
    (that is how key rotation and co-signing work), every signature by a trusted key must
    verify, and at least one must exist. Raises :class:`VerificationError` otherwise, naming
    the keys that did sign. Returns the note with ``verified_by`` filled in.
    """
    note = parse_note(note_text)
    return dataclasses.replace(note, verified_by=_verified_keys(note, keys))


def parse_checkpoint_body(body: str) -> tuple[str, int, bytes, tuple[str, ...]]:
    """Parse checkpoint note text into ``(origin, tree_size, root, extensions)``.

    The text is ``<origin>\\n<decimal size>\\n<base64 root>\\n`` followed by optional non-empty
    extension lines. Raises :class:`VerificationError` if it is malformed.
    """
    problem = note_text_problem(body)
    if problem:
        raise VerificationError(problem)
    if not body.endswith("\n"):
        raise VerificationError("checkpoint text does not end with a newline")
    lines = body[:-1].split("\n")
    if len(lines) < 3:
        raise VerificationError(f"checkpoint text has {len(lines)} line(s); it needs origin, tree size and root hash")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise VerificationError("checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size_text):
        raise VerificationError(f"checkpoint tree size {size_text!r} is not a decimal number")
    if len(size_text) > 1 and size_text.startswith("0"):
        raise VerificationError(f"checkpoint tree size {size_text!r} has leading zeros")
    if len(size_text) > 20 or int(size_text) > _MAX_TREE_SIZE:
        raise VerificationError(f"checkpoint tree size {size_text} does not fit in 64 bits")
    root = _decode_base64(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise VerificationError(f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    for number, extension in enumerate(extensions, start=4):
        if not extension:
            raise VerificationError(f"checkpoint line {number} (an extension line) is empty")
    return origin, int(size_text), root, tuple(extensions)


def parse_checkpoint(note_text: str | bytes) -> Checkpoint:
    """Parse a checkpoint note without verifying its signatures (see :func:`verify_checkpoint`)."""
    note = parse_note(note_text)
    origin, tree_size, root, extensions = parse_checkpoint_body(note.body)
    return Checkpoint(
        origin=origin,
        tree_size=tree_size,
        root=root,
        extensions=extensions,
        body=note.body,
        signatures=note.signatures,
    )


def verify_checkpoint(note_text: str | bytes, *, keys: Sequence[VerifierKey], origin: str | None = None) -> Checkpoint:
    """Parse a checkpoint and verify it is signed by at least one of the trusted ``keys``.

    If ``origin`` is given the checkpoint must be for that log. Returns the checkpoint with
    ``verified_by`` filled in; raises :class:`VerificationError` otherwise.
    """
    checkpoint = parse_checkpoint(note_text)
    verified_by = _verified_keys(SignedNote(body=checkpoint.body, signatures=checkpoint.signatures), keys)
    if origin is not None and checkpoint.origin != origin:
        raise VerificationError(
            f"checkpoint is for origin {checkpoint.origin!r}, expected {origin!r} (a checkpoint of another log)"
        )
    return dataclasses.replace(checkpoint, verified_by=verified_by)


# ---------------------------------------------------------------------------------------------
# Witness cosignatures (C2SP tlog-cosignature, Ed25519 cosignature/v1)
# ---------------------------------------------------------------------------------------------
#
# A witness is an independent party that keeps, for each log, the largest checkpoint it has seen, and cosigns a new
# one only when an RFC 9162 consistency proof links the two (C2SP tlog-witness). A cosignature is one more
# signature line on the checkpoint note:
#
#     signature line    \u2014 <witness name> <base64(4-byte key id || 8-byte big-endian timestamp || signature)>
#     key id            SHA-256(<witness name> || 0x0A || 0x04 || <32-byte Ed25519 public key>)[:4]
#     signed message    "cosignature/v1\n" "time <decimal POSIX seconds>\n" <the whole checkpoint note text>
#     witness key       <name>+<8 hex digits key id>+<base64(0x04 || public key)>
#
# The 0x04 type byte keeps a witness's key id distinct from a log key's (0x01), so a log signature can never pass
# as a cosignature. A verifier that does not know a witness ignores its line, as the signed-note spec requires.

COSIGNATURE_ALGORITHM = 0x04
"""Signature type of Ed25519 cosignature/v1 keys (C2SP tlog-cosignature)."""

COSIGNATURE_HEADER = "cosignature/v1"
_MAX_COSIGNATURE_TIME = (1 << 63) - 1


def cosignature_key_id(name: str, public_key_bytes: bytes) -> bytes:
    """Return the 4-byte key id ``SHA-256(name || 0x0A || 0x04 || public key)[:4]`` of an Ed25519 cosigner."""
    if len(public_key_bytes) != 32:
        raise ValueError(f"Ed25519 public key must be 32 bytes, got {len(public_key_bytes)}")
    material = name.encode("utf-8") + b"\n" + bytes([COSIGNATURE_ALGORITHM]) + bytes(public_key_bytes)
    return hashlib.sha256(material).digest()[:4]


def cosignature_message(body: str, timestamp: int) -> bytes:
    """The bytes a cosignature/v1 signs: header line, time line, then the checkpoint note text (with its newline)."""
    if type(timestamp) is not int or not 0 <= timestamp <= _MAX_COSIGNATURE_TIME:
        raise ValueError(f"cosignature time must be an integer between 0 and 2**63 - 1, got {timestamp!r}")
    return f"{COSIGNATURE_HEADER}\ntime {timestamp}\n{body}".encode()


@dataclasses.dataclass(frozen=True)
class WitnessKey:
    """A trusted witness: its name, 4-byte cosignature key id and 32-byte Ed25519 public key."""

    name: str
    key_id: bytes
    public_key: bytes

    def text(self) -> str:
        """The key in verifier-key text form ``<name>+<hex id>+<base64(0x04 || key)>``."""
        encoded = base64.b64encode(bytes([COSIGNATURE_ALGORITHM]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def describe(self) -> str:
        """Short human-readable form used in messages: ``name (key id 0123abcd)``."""
        return f"{self.name} (key id {self.key_id.hex()})"


@dataclasses.dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness, and the time (POSIX seconds) it says it signed at."""

    witness: WitnessKey
    timestamp: int

    def describe(self) -> str:
        moment = datetime.fromtimestamp(self.timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return f"{self.witness.describe()} at {moment}"


def parse_witness_key(text: str) -> WitnessKey:
    """Parse witness key text ``<name>+<8 hex digits key id>+<base64(0x04 || public key)>``, checking the key id."""
    name, separator, rest = text.strip().partition("+")
    key_id_hex, separator2, encoded = rest.partition("+")
    if not separator or not separator2:
        raise VerificationError(f"witness key {text!r} is not of the form <name>+<8 hex digits key id>+<base64 key>")
    problem = key_name_problem(name)
    if problem:
        raise VerificationError(f"witness key {text!r}: {problem}")
    if not _KEY_ID_HEX.fullmatch(key_id_hex):
        raise VerificationError(f"witness key {text!r}: key id {key_id_hex!r} is not 8 hex digits")
    raw = _decode_base64(encoded, f"witness key {name!r} public key")
    if len(raw) != 33 or raw[0] != COSIGNATURE_ALGORITHM:
        kind = f"0x{raw[0]:02x}" if raw else "missing"
        raise VerificationError(
            f"witness key {name!r}: expected type 0x04 (Ed25519 cosignature/v1) and a 32-byte key, got type {kind} "
            f"and {max(len(raw) - 1, 0)} bytes (a log's 0x01 key is not a witness key)"
        )
    key_id = bytes.fromhex(key_id_hex)
    if key_id != cosignature_key_id(name, raw[1:]):
        raise VerificationError(f"witness key {name!r}: key id {key_id.hex()} does not match the name and public key")
    try:
        Ed25519PublicKey.from_public_bytes(raw[1:])
    except ValueError as error:
        raise VerificationError(f"witness key {name!r}: not a valid Ed25519 public key: {error}") from None
    return WitnessKey(name=name, key_id=key_id, public_key=raw[1:])


def verify_cosignatures(note_text: str | bytes, *, witnesses: Sequence[WitnessKey]) -> list[Cosignature]:
    """The cosignatures on a checkpoint note by the given ``witnesses`` (each witness once, in the note's order).

    Lines of other keys are ignored. A line that names a given witness but does not verify raises
    :class:`VerificationError`: the note or the cosignature was altered.
    """
    note = parse_note(note_text)
    return checkpoint_cosignatures(note.body, note.signatures, witnesses=witnesses)


def checkpoint_cosignatures(
    body: str, signatures: Sequence[NoteSignature], *, witnesses: Sequence[WitnessKey]
) -> list[Cosignature]:
    """:func:`verify_cosignatures` for a note already parsed (e.g. a verified :class:`Checkpoint`)."""
    known = {(witness.name, witness.key_id): witness for witness in witnesses}
    found: list[Cosignature] = []
    for signature in signatures:
        witness = known.get((signature.name, signature.key_id))
        if witness is None:
            continue
        if len(signature.signature) != 8 + 64:
            raise VerificationError(
                f"cosignature by {witness.describe()} is {len(signature.signature)} bytes; a cosignature/v1 is an "
                "8-byte time and a 64-byte Ed25519 signature"
            )
        timestamp = int.from_bytes(signature.signature[:8], "big")
        if timestamp > _MAX_COSIGNATURE_TIME:
            raise VerificationError(f"cosignature by {witness.describe()} has a time beyond 2**63 - 1")
        try:
            Ed25519PublicKey.from_public_bytes(witness.public_key).verify(
                signature.signature[8:], cosignature_message(body, timestamp)
            )
        except InvalidSignature:
            raise VerificationError(
                f"cosignature by {witness.describe()} does not verify: the checkpoint was altered after it was "
                "cosigned, or the cosignature is corrupt"
            ) from None
        if all(other.witness != witness for other in found):
            found.append(Cosignature(witness=witness, timestamp=timestamp))
    return found


def _check_witnesses(
    checkpoint: Checkpoint | None,
    witnesses: Sequence[WitnessKey],
    minimum: int,
    report: ExportReport | BundleReport,
) -> None:
    """Record the given witnesses' cosignatures on the verified ``checkpoint``, and a problem below ``minimum``."""
    if not witnesses and not minimum:
        return
    if checkpoint is None:
        report.problems.append(f"no verified checkpoint, so no witness cosignature can be counted (need {minimum})")
        return
    try:
        report.cosignatures = checkpoint_cosignatures(checkpoint.body, checkpoint.signatures, witnesses=witnesses)
    except VerificationError as error:
        report.problems.append(str(error))
        return
    problem = witness_problem(report.cosignatures, witnesses=witnesses, minimum=minimum)
    if problem:
        report.problems.append(problem)


def _witnessed(cosignatures: Sequence[Cosignature] | None) -> str:
    if cosignatures is None:
        return ""
    if not cosignatures:
        return "; cosigned by none of the given witnesses"
    return "; cosigned by " + ", ".join(cosignature.describe() for cosignature in cosignatures)


def witness_problem(
    cosignatures: Sequence[Cosignature], *, witnesses: Sequence[WitnessKey], minimum: int
) -> str | None:
    """Why the cosignatures found do not meet the minimum (naming the witnesses that did not cosign), or None."""
    if len(cosignatures) >= minimum:
        return None
    signed = {cosignature.witness for cosignature in cosignatures}
    missing = ", ".join(witness.describe() for witness in witnesses if witness not in signed) or "none"
    return (
        f"the checkpoint is cosigned by {len(cosignatures)} of the given witnesses, at least {minimum} required "
        f"(not cosigned by: {missing}). A witness refuses to cosign a checkpoint inconsistent with the history it "
        "saw: this trail may be a split view shown only to you, or the witnesses were not reached"
    )


# ---------------------------------------------------------------------------------------------
# Gate tokens: the approval gate's signed "pass" decisions
# ---------------------------------------------------------------------------------------------

GATE_TOKEN_PREFIX = "assay-gate.v1."  # noqa: S105 - a format marker, not a secret
"""Prefix of a gate token's compact form, followed by base64url (no padding) of the signed note."""

GATE_ORIGIN_SUFFIX = "/gate"
"""A gate token's origin is the trail's origin plus this suffix: its signed text is never a checkpoint's."""

GATE_FIELDS = (
    "decision",
    "model",
    "version",
    "artifact-sha256",
    "dataset",
    "policy",
    "audit",
    "environment",
    "approvers",
    "issued",
    "expires",
    "nonce",
)
"""The keys of a gate token's lines 2..13, in their one allowed order."""

GATE_NONE = "-"
"""The value of ``artifact-sha256``, ``dataset``, ``policy``, ``audit`` or ``approvers`` when there is none."""

MAX_GATE_TOKEN_CHARS = 16384
"""Upper bound on a compact token's length (tokens travel in HTTP headers and on command lines)."""

GATE_CLOCK_SKEW_SECONDS = 300
"""How far in the future a token's issue time may lie before the clocks are suspected."""

_NAME = r"[!-~]+"  # printable ASCII, no space: slugs, environments, ids
_HASH_OR_NONE = r"(?:[0-9a-f]{64}|-)"
_GATE_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_GATE_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_APPROVER = re.compile(r"[\x21-\x2b\x2d-\x7e]+")  # printable ASCII except space and the separating comma
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")
_GATE_VALUES: dict[str, tuple[re.Pattern[str], str]] = {
    "decision": (re.compile(r"pass"), "'pass' (tokens are only issued for a pass)"),
    "model": (re.compile(_NAME), "a name in printable ASCII without spaces"),
    "version": (re.compile(r"[1-9][0-9]{0,17}"), "a positive decimal number without leading zeros"),
    "artifact-sha256": (re.compile(_HASH_OR_NONE), "64 lowercase hex digits or '-'"),
    "dataset": (re.compile(rf"-|{_NAME}/v[1-9][0-9]{{0,17}} {_HASH_OR_NONE}"), "'<name>/v<n> <sha256>' or '-'"),
    "policy": (re.compile(rf"-|{_NAME}/v[1-9][0-9]{{0,17}} {_HASH_OR_NONE}"), "'<name>/v<n> <sha256>' or '-'"),
    "audit": (re.compile(rf"-|{_NAME} {_HASH_OR_NONE}"), "'<run id> <results sha256>' or '-'"),
    "environment": (re.compile(_NAME), "a name in printable ASCII without spaces"),
    "approvers": (
        re.compile(rf"-|{_APPROVER.pattern}(?:,{_APPROVER.pattern})*"),
        "comma-separated user ids (printable ASCII, no spaces) or '-'",
    ),
    "issued": (_GATE_TIME, "an RFC 3339 UTC time in whole seconds, e.g. 2025-01-31T12:00:00Z"),
    "expires": (_GATE_TIME, "an RFC 3339 UTC time in whole seconds, e.g. 2025-01-31T12:00:00Z"),
    "nonce": (re.compile(r"[0-9a-f]{32,128}"), "32 to 128 lowercase hex digits"),
}


class GateTokenError(VerificationError, ValueError):
    """A gate token is refused; the message starts with the reason (``not a gate token``, ``bad base64``,
    ``malformed note``, ``unknown key``, ``bad signature``, ``malformed line N``, ``wrong origin``, ``expired``,
    ``not yet valid``)."""


@dataclasses.dataclass(frozen=True)
class GateClaims:
    """What a gate token says: a ``pass`` for one model version, in one environment, until ``expires_at``.

    ``artifact_sha256``, ``dataset``, ``policy`` and ``audit`` hold their line's value as written (``-`` when
    there is none); ``approvers`` are user ids (never names: a token carries no personal data); the times are
    timezone-aware, in whole seconds.
    """

    decision: str
    model: str
    version: int
    artifact_sha256: str
    dataset: str
    policy: str
    audit: str
    environment: str
    approvers: tuple[str, ...]
    issued_at: datetime
    expires_at: datetime
    nonce: str


@dataclasses.dataclass(frozen=True)
class GateToken:
    """A verified gate token: its origin, its claims, the signed note and the trusted keys that signed it."""

    origin: str
    claims: GateClaims
    note: str
    verified_by: tuple[VerifierKey, ...]


def format_gate_time(moment: datetime) -> str:
    """The one spelling of a time in a gate token: RFC 3339, UTC, whole seconds, ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"gate token times must be timezone-aware, got {moment!r}")
    return moment.astimezone(UTC).strftime(_GATE_TIME_FORMAT)


def gate_claims_lines(claims: GateClaims) -> list[str]:
    """The ``key value`` lines 2..13 of a gate token's text, in order (no validation: see ``parse_gate_body``)."""
    values = {
        "decision": claims.decision,
        "model": claims.model,
        "version": str(claims.version),
        "artifact-sha256": claims.artifact_sha256,
        "dataset": claims.dataset,
        "policy": claims.policy,
        "audit": claims.audit,
        "environment": claims.environment,
        "approvers": ",".join(claims.approvers) if claims.approvers else GATE_NONE,
        "issued": format_gate_time(claims.issued_at),
        "expires": format_gate_time(claims.expires_at),
        "nonce": claims.nonce,
    }
    return [f"{key} {values[key]}" for key in GATE_FIELDS]


def gate_claims_json(claims: GateClaims) -> dict[str, object]:
    """The claims as a JSON object (times in the token's spelling, approvers as a list)."""
    return {
        "decision": claims.decision,
        "model": claims.model,
        "version": claims.version,
        "artifact_sha256": claims.artifact_sha256,
        "dataset": claims.dataset,
        "policy": claims.policy,
        "audit": claims.audit,
        "environment": claims.environment,
        "approvers": list(claims.approvers),
        "issued_at": format_gate_time(claims.issued_at),
        "expires_at": format_gate_time(claims.expires_at),
        "nonce": claims.nonce,
    }


def _shown(text: str, limit: int = 80) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


def parse_gate_body(body: str) -> tuple[str, GateClaims]:
    """Parse a gate token's signed text into ``(origin, claims)``; raises :class:`GateTokenError`.

    The text is the origin line, then exactly the lines of ``GATE_FIELDS`` in that order, each ``key value``.
    """
    problem = note_text_problem(body)
    if problem:
        raise GateTokenError(f"malformed note: {problem}")
    if not body.endswith("\n"):
        raise GateTokenError("malformed note: the text does not end with a newline")
    origin, *lines = body[:-1].split("\n")
    if not origin:
        raise GateTokenError("malformed line 1: the origin is empty")
    values: dict[str, str] = {}
    for number, key in enumerate(GATE_FIELDS, start=2):
        if number - 2 >= len(lines):
            raise GateTokenError(f"malformed line {number}: the text ends where the {key!r} line belongs")
        line = lines[number - 2]
        found, _, value = line.partition(" ")
        if found != key:
            raise GateTokenError(f"malformed line {number}: expected the {key!r} line, found {_shown(line)}")
        pattern, rule = _GATE_VALUES[key]
        if not pattern.fullmatch(value):
            raise GateTokenError(f"malformed line {number}: {key} {_shown(value)} is not {rule}")
        values[key] = value
    if len(lines) > len(GATE_FIELDS):
        number = len(GATE_FIELDS) + 2
        raise GateTokenError(
            f"malformed line {number}: unexpected line after 'nonce': {_shown(lines[len(GATE_FIELDS)])}"
        )
    times: dict[str, datetime] = {}
    for key in ("issued", "expires"):
        try:
            times[key] = datetime.strptime(values[key], _GATE_TIME_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            number = GATE_FIELDS.index(key) + 2
            raise GateTokenError(f"malformed line {number}: {key} {values[key]!r} is not a valid time") from None
    if times["expires"] <= times["issued"]:
        number = GATE_FIELDS.index("expires") + 2
        raise GateTokenError(
            f"malformed line {number}: expires {values['expires']} is not after issued {values['issued']}"
        )
    approvers = () if values["approvers"] == GATE_NONE else tuple(values["approvers"].split(","))
    if len(set(approvers)) != len(approvers):
        number = GATE_FIELDS.index("approvers") + 2
        raise GateTokenError(f"malformed line {number}: an approver is listed twice")
    claims = GateClaims(
        decision=values["decision"],
        model=values["model"],
        version=int(values["version"]),
        artifact_sha256=values["artifact-sha256"],
        dataset=values["dataset"],
        policy=values["policy"],
        audit=values["audit"],
        environment=values["environment"],
        approvers=approvers,
        issued_at=times["issued"],
        expires_at=times["expires"],
        nonce=values["nonce"],
    )
    return origin, claims


def decode_gate_token(token: str) -> str:
    """The signed note inside a compact gate token; raises :class:`GateTokenError`.

    The base64url must be canonical (no padding, unused bits zero), so that every token has one spelling and
    changing any character of it changes the note.
    """
    if not isinstance(token, str):
        raise GateTokenError(f"not a gate token: expected text, got {type(token).__name__}")
    if len(token) > MAX_GATE_TOKEN_CHARS:
        raise GateTokenError(f"not a gate token: {len(token)} characters, more than {MAX_GATE_TOKEN_CHARS}")
    if not token.startswith(GATE_TOKEN_PREFIX):
        raise GateTokenError(f"not a gate token: it does not start with {GATE_TOKEN_PREFIX!r}")
    encoded = token[len(GATE_TOKEN_PREFIX) :]
    if not encoded:
        raise GateTokenError("bad base64: nothing follows the prefix")
    match = _BASE64URL.match(encoded)
    end = match.end() if match else 0
    if end < len(encoded):
        position = len(GATE_TOKEN_PREFIX) + end
        raise GateTokenError(
            f"bad base64: character {encoded[end]!r} at position {position} is not base64url (A-Z a-z 0-9 - _)"
        )
    if len(encoded) % 4 == 1:
        raise GateTokenError(f"bad base64: {len(encoded)} characters cannot be base64url (truncated?)")
    raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != encoded:
        raise GateTokenError("bad base64: not canonical (the last character has unused bits set)")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise GateTokenError(f"malformed note: not valid UTF-8 (byte {error.start})") from None


def encode_gate_token(note: str) -> str:
    """The compact form of a signed gate note: the prefix and base64url of its UTF-8, without padding."""
    return GATE_TOKEN_PREFIX + base64.urlsafe_b64encode(note.encode("utf-8")).decode("ascii").rstrip("=")


def verify_gate_token(
    token: str, *, keys: Sequence[VerifierKey], origin: str | None = None, now: datetime | None = None
) -> GateToken:
    """Verify a compact gate token against trusted ``keys`` and return it; raises :class:`GateTokenError`.

    Checked in this order: the prefix and base64url, the signed note's shape, a signature by a trusted key (every
    trusted key's signature must verify, as for checkpoints), the text's lines, the origin (``origin`` exactly
    when given, else any origin ending in ``/gate``), and that ``now`` (default: the current time) is before the
    expiry and no more than ``GATE_CLOCK_SKEW_SECONDS`` before the issue time.
    """
    note_text = decode_gate_token(token)
    try:
        note = parse_note(note_text)
    except VerificationError as error:
        raise GateTokenError(f"malformed note: {error}") from None
    try:
        known = _index_keys(keys)
    except VerificationError as error:
        raise GateTokenError(f"trusted keys: {error}") from None
    if not any((signature.name, signature.key_id) in known for signature in note.signatures):
        signers = "; ".join(signature.describe() for signature in note.signatures)
        trusted = ", ".join(key.describe() for key in known.values()) or "none"
        raise GateTokenError(f"unknown key: the token is signed only by {signers}; trusted keys are {trusted}")
    try:
        verified_by = _verified_keys(note, keys)
    except VerificationError as error:
        raise GateTokenError(f"bad signature (tampered): {error}") from None
    found_origin, claims = parse_gate_body(note.body)
    if origin is not None and found_origin != origin:
        raise GateTokenError(f"wrong origin: the token is for {found_origin!r}, expected {origin!r}")
    if not found_origin.endswith(GATE_ORIGIN_SUFFIX):
        raise GateTokenError(
            f"wrong origin: {found_origin!r} does not end in {GATE_ORIGIN_SUFFIX!r}, so this is not a gate token"
        )
    moment = datetime.now(UTC) if now is None else now
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if moment >= claims.expires_at:
        raise GateTokenError(
            f"expired: the token expired at {format_gate_time(claims.expires_at)} "
            f"(it is now {format_gate_time(moment)})"
        )
    if (claims.issued_at - moment).total_seconds() > GATE_CLOCK_SKEW_SECONDS:
        raise GateTokenError(
            f"not yet valid: issued at {format_gate_time(claims.issued_at)}, but it is only "
            f"{format_gate_time(moment)}: the signer's clock or this one is wrong"
        )
    return GateToken(origin=found_origin, claims=claims, note=note_text, verified_by=verified_by)


def gate_claims_mismatches(
    claims: GateClaims,
    *,
    model: str | None = None,
    version: int | None = None,
    environment: str | None = None,
    artifact_sha256: str | None = None,
) -> list[str]:
    """How ``claims`` differ from what the deploy step expects (each given expectation), one line per field."""
    expected: list[tuple[str, object, object]] = [
        ("model", model, claims.model),
        ("version", version, claims.version),
        ("environment", environment, claims.environment),
        ("artifact-sha256", artifact_sha256, claims.artifact_sha256),
    ]
    return [
        f"{field} is {actual!r}, expected {wanted!r}"
        for field, wanted, actual in expected
        if wanted is not None and wanted != actual
    ]


# ---------------------------------------------------------------------------------------------
# Export directory verification
# ---------------------------------------------------------------------------------------------

EXPORT_FORMAT = "assay-trail/1"
"""Value of ``format`` in ``trail.json`` that this verifier understands."""

_MAX_LEAF_PROBLEMS = 20  # beyond this only a count is printed; the first ones locate the damage
_LOWER_HEX_HASH = re.compile(r"[0-9a-f]{64}")

# Every read is bounded, so a hostile input (a file without newlines, a sparse file of zeros, a
# "zip bomb") ends in a FAIL line instead of exhausting memory. The limits are far beyond what
# Assay writes: a trail event is a few hundred bytes, a proof line a few kilobytes.
MAX_LEAF_BYTES = 16 << 20
"""Longest trail event (leaf) accepted, in bytes, without its newline."""
_MAX_PROOF_LINE = 64 << 10  # {"seq", "leaf_hash", "proof": at most 64 hashes}: under 5 KB
_MAX_SMALL_FILE = 1 << 20  # trail.json, key files, proof files
_MAX_CHECKPOINTS_FILE = 256 << 20  # every checkpoint ever signed, about 400 bytes each


class InputError(Exception):
    """An input cannot be read at all (missing file, unreadable, bad command-line file)."""


class _TooLarge(InputError):
    """A file is larger than anything this verifier reads; in an export that is a problem, not an input error."""


class _LineTooLong(Exception):
    """A line is longer than the longest one accepted (no newline where one was due)."""


@dataclasses.dataclass
class ExportReport:
    """Outcome of :func:`verify_export`: counts, the latest checkpoint, problems and warnings."""

    leaves: int = 0
    checkpoints: int = 0
    latest: Checkpoint | None = None
    export_keys: list[VerifierKey] | None = None  # set when the export's own keys.txt was used (no trusted keys)
    cosignatures: list[Cosignature] | None = None  # set when witnesses were given: those that cosigned the latest
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed to verify."""
        return not self.problems

    def summary(self) -> str:
        """One line describing what was verified."""
        if self.latest is None:
            latest = "no checkpoint"
        else:
            latest = f"latest checkpoint: size {self.latest.tree_size}, root {self.latest.root.hex()}"
        witnessed = _witnessed(self.cosignatures)
        return f"OK: {self.leaves} leaves, {self.checkpoints} checkpoints verified; {latest}{witnessed}"


def _read_bytes(path: Path, limit: int = _MAX_SMALL_FILE) -> bytes:
    try:
        with path.open("rb") as file:
            data = file.read(limit + 1)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    if len(data) > limit:
        raise _TooLarge(f"{path} is larger than {limit} bytes, far larger than any file of this kind")
    return data


def _strict_json(data: bytes | str) -> object:
    # Refuse what JSON parsers disagree on: duplicate keys (which "seq" wins?), NaN/Infinity
    # (not JSON at all) and non-UTF-8 bytes (json.loads would guess UTF-16/32).
    def no_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
        result: dict[str, object] = {}
        for key, value in pairs:
            if key in result:
                raise ValueError(f"duplicate key {key!r}")
            result[key] = value
        return result

    def no_constants(name: str) -> object:
        raise ValueError(f"{name} is not valid JSON")

    text = data.decode("utf-8") if isinstance(data, bytes) else data
    try:
        return json.loads(text, object_pairs_hook=no_duplicates, parse_constant=no_constants)
    except RecursionError:
        raise ValueError("nested too deeply") from None


class _LeafScanner:
    """Checks leaves one by one (JSON object, seq, prev chain), and tracks prefix roots.

    It also keeps the perfect nodes named in ``wanted_nodes`` as the leaves complete them: the
    nodes of the consistency proofs it will build. Memory stays O(log n) however long the file.
    """

    def __init__(self, wanted_sizes: Iterable[int], wanted_nodes: Iterable[NodeId] = ()) -> None:
        self.count = 0
        self.problems: list[str] = []
        self.suppressed = 0
        self.frontier = CompactRange()
        self.prefix_roots: dict[int, bytes] = {}
        self.nodes: dict[NodeId, bytes] = {}
        self._wanted_nodes = set(wanted_nodes)
        self._wanted = set(wanted_sizes)
        self._previous_hash = ""
        self._seq_offset = 0
        self._crlf_reported = False
        if 0 in self._wanted:
            self.prefix_roots[0] = EMPTY_ROOT

    def _problem(self, message: str) -> None:
        if len(self.problems) < _MAX_LEAF_PROBLEMS:
            self.problems.append(message)
        else:
            self.suppressed += 1

    def add(self, line: bytes) -> None:
        index = self.count
        where = f"leaf {index} (leaves.jsonl line {index + 1})"
        if line.endswith(b"\n"):
            data = line[:-1]
        else:
            data = line
            self._problem(f"{where} does not end with a newline: the file may be truncated")
        digest = leaf_hash(data)
        self._check_content(index, where, data)
        self._previous_hash = digest.hex()
        for node, value in self.frontier.append(digest):
            if node in self._wanted_nodes:
                self.nodes[node] = value
        self.count += 1
        if self.count in self._wanted:
            self.prefix_roots[self.count] = self.frontier.root()

    def _check_content(self, index: int, where: str, data: bytes) -> None:
        if data.endswith(b"\r") and not self._crlf_reported:
            # Said once: a text editor or file transfer converting line endings changes every
            # leaf's bytes, and the hundreds of hash mismatches that follow would hide why.
            self._crlf_reported = True
            self._problem(
                f"{where} ends with a carriage return: leaves.jsonl seems to have been converted to CRLF "
                "line endings, which changes the leaf bytes; use the file exactly as exported"
            )
        try:
            leaf = _strict_json(data)
        except UnicodeDecodeError:
            self._problem(f"{where} is not valid UTF-8")
            return
        except ValueError as error:
            self._problem(f"{where} is not valid JSON: {error}")
            return
        if not isinstance(leaf, dict):
            self._problem(f"{where} is not a JSON object")
            return
        seq = leaf.get("seq")
        if type(seq) is not int:
            self._problem(f'{where} has no integer "seq" field')
        elif seq != index and seq - index != self._seq_offset:
            # Report where the numbering shifts, not every later leaf that inherits the shift.
            if seq > index:
                missing = seq - index
                counted = "1 leaf before it is" if missing == 1 else f"{missing} leaves before it are"
                cause = f"{counted} missing (deleted), or leaves were reordered"
            else:
                cause = "a leaf was inserted or duplicated before it, or leaves were reordered"
            self._problem(
                f"{where}: seq is {seq}, expected {index}: {cause}"
                " (later leaves with the same shift are not reported again)"
            )
        if type(seq) is int:
            self._seq_offset = seq - index
        prev = leaf.get("prev")
        if not isinstance(prev, str):
            self._problem(f'{where} has no string "prev" field')
        elif index == 0 and prev != "":
            self._problem(f"{where}: prev must be empty for the first leaf, got {prev!r}: leaves before it are missing")
        elif index > 0 and prev != self._previous_hash:
            shown = prev if _LOWER_HEX_HASH.fullmatch(prev) else repr(prev)
            self._problem(
                f"{where}: prev is {shown}, but the hash of leaf {index - 1} is {self._previous_hash}: "
                f"the chain is broken (leaf {index - 1} was altered, or leaves were removed, inserted "
                f"or moved between them)"
            )


def _check_trail_json(directory: Path, report: ExportReport) -> dict[str, object]:
    try:
        trail = _strict_json(_read_bytes(directory / "trail.json"))
    except _TooLarge as error:
        report.problems.append(f"trail.json: {error}")
        return {}
    except ValueError as error:
        report.problems.append(f"trail.json is not valid JSON: {error}")
        return {}
    if not isinstance(trail, dict):
        report.problems.append("trail.json is not a JSON object")
        return {}
    if trail.get("format") != EXPORT_FORMAT:
        report.problems.append(f"trail.json format is {trail.get('format')!r}, expected {EXPORT_FORMAT!r}")
    if not isinstance(trail.get("origin"), str) or not trail.get("origin"):
        report.problems.append('trail.json has no non-empty string "origin"')
    if type(trail.get("tree_size")) is not int:
        report.problems.append('trail.json has no integer "tree_size"')
    exported_at = trail.get("exported_at")
    try:
        datetime.fromisoformat(exported_at)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        report.problems.append(f'trail.json "exported_at" is not an ISO 8601 timestamp: {exported_at!r}')
    if not isinstance(trail.get("leaf_encoding"), str):
        report.problems.append('trail.json has no string "leaf_encoding"')
    return trail


def _load_checkpoints(
    directory: Path, keys: Sequence[VerifierKey], origin: str | None, report: ExportReport
) -> list[tuple[int, Checkpoint]]:
    try:
        document = _strict_json(_read_bytes(directory / "checkpoints.json", _MAX_CHECKPOINTS_FILE))
    except _TooLarge as error:
        report.problems.append(f"checkpoints.json: {error}")
        return []
    except ValueError as error:
        report.problems.append(f"checkpoints.json is not valid JSON: {error}")
        return []
    entries = document.get("checkpoints") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        report.problems.append('checkpoints.json has no "checkpoints" list')
        return []
    verified = []
    for position, entry in enumerate(entries):
        where = f"checkpoints.json entry {position}"
        if not isinstance(entry, dict) or not isinstance(entry.get("note"), str):
            report.problems.append(f'{where} has no string "note"')
            continue
        where += f" (tree_size {entry.get('tree_size')!r})"
        try:
            checkpoint = verify_checkpoint(entry["note"], keys=keys, origin=origin)
        except VerificationError as error:
            report.problems.append(f"{where}: {error}")
            continue
        if entry.get("tree_size") != checkpoint.tree_size:
            # The unsigned copy of the size disagreeing with the signed one is tampering too.
            report.problems.append(f"{where}: the signed note says tree size {checkpoint.tree_size}")
        verified.append((position, checkpoint))
    return verified


def _export_keys(
    directory: Path, trusted_keys: Sequence[VerifierKey] | None, report: ExportReport
) -> list[VerifierKey]:
    if trusted_keys is not None:
        keys = list(trusted_keys)
    else:
        try:
            key_text = _read_bytes(directory / "keys.txt").decode("utf-8", errors="replace")
        except _TooLarge as error:
            report.problems.append(f"keys.txt: {error}")
            key_text = ""
        keys, key_problems = parse_key_file(key_text)
        report.problems.extend(f"keys.txt {problem}" for problem in key_problems)
        report.export_keys = list(keys)
    if not keys:
        report.problems.append("no verifier keys: no signature can be checked")
    return keys


def _expected_origin(trail: dict[str, object], origin: str | None, report: ExportReport) -> str | None:
    # The origin inside signed checkpoints is what counts; trail.json's copy is unsigned, so
    # an origin given on the command line takes precedence and must agree with it.
    trail_origin = trail.get("origin")
    if not isinstance(trail_origin, str):
        return origin
    if origin is not None and trail_origin != origin:
        report.problems.append(f"trail.json origin is {trail_origin!r}, expected {origin!r}")
    return origin if origin is not None else trail_origin


def _scan_leaves(
    path: Path, wanted: Iterable[int], *, wanted_nodes: Iterable[NodeId], report: ExportReport
) -> _LeafScanner:
    # One streaming pass: the file may be far larger than memory, and so may one "line" of it
    # (a file without newlines), so each line is read with a bound.
    scanner = _LeafScanner(wanted, wanted_nodes)
    try:
        with path.open("rb") as leaves:
            while line := leaves.readline(MAX_LEAF_BYTES + 2):
                if len(line) > MAX_LEAF_BYTES + 1 or (len(line) == MAX_LEAF_BYTES + 1 and not line.endswith(b"\n")):
                    report.problems.append(
                        f"leaf {scanner.count} (leaves.jsonl line {scanner.count + 1}) is longer than "
                        f"{MAX_LEAF_BYTES} bytes, far longer than any trail event: leaves.jsonl is not a trail "
                        "export (or lost its newlines); the leaves after it were not checked"
                    )
                    break
                scanner.add(line)
    except OSError as error:
        raise InputError(f"cannot read {path}: {error.strerror or error}") from None
    report.leaves = scanner.count
    report.problems.extend(scanner.problems)
    if scanner.suppressed:
        report.problems.append(f"... and {scanner.suppressed} more leaf problems not shown")
    return scanner


def verify_export(
    directory: str | Path,
    *,
    trusted_keys: Sequence[VerifierKey] | None = None,
    previous_checkpoints: Sequence[tuple[str, str | bytes]] = (),
    origin: str | None = None,
    witnesses: Sequence[WitnessKey] = (),
    min_witnesses: int = 0,
) -> ExportReport:
    """Verify an export directory (format described in the module docstring).

    ``trusted_keys``: verifier keys obtained independently; when ``None`` the export's own
    ``keys.txt`` is used and recorded in ``report.export_keys`` (which then proves nothing about
    who signed). ``previous_checkpoints``: ``(label, note
    text)`` pairs kept from earlier exports; each must still be matched by the leaves.
    ``origin``: the log's expected origin (defaults to the one in ``trail.json``). ``witnesses``: witness keys
    whose cosignatures on the latest checkpoint are counted; fewer than ``min_witnesses`` is a problem.

    Returns an :class:`ExportReport`; raises :class:`InputError` if a required file cannot be
    read at all.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory} is not a directory")
    report = ExportReport()

    trail = _check_trail_json(directory, report)
    expected_origin = _expected_origin(trail, origin, report)

    keys = _export_keys(directory, trusted_keys, report)
    checkpoints = _load_checkpoints(directory, keys, expected_origin, report) if keys else []
    report.checkpoints = len(checkpoints)

    held: list[tuple[str, Checkpoint]] = []
    for label, note in previous_checkpoints:
        try:
            held.append((label, verify_checkpoint(note, keys=keys, origin=expected_origin)))
        except VerificationError as error:
            report.problems.append(f"previous checkpoint {label}: {error}")

    wanted = {checkpoint.tree_size for _, checkpoint in checkpoints} | {cp.tree_size for _, cp in held}
    latest_size = checkpoints[-1][1].tree_size if checkpoints else 0
    wanted_nodes = [
        node
        for _, checkpoint in held
        if checkpoint.tree_size <= latest_size
        for begin, end in consistency_proof_ranges(checkpoint.tree_size, latest_size)
        for node in range_node_ids(begin, end)
    ]
    scanner = _scan_leaves(directory / "leaves.jsonl", wanted, wanted_nodes=wanted_nodes, report=report)

    if type(trail.get("tree_size")) is int and trail["tree_size"] != scanner.count:
        report.problems.append(
            f"trail.json says tree_size {trail['tree_size']}, but leaves.jsonl has {scanner.count} leaves"
        )

    _check_checkpoints_against_leaves(checkpoints, scanner, report)
    if checkpoints:
        report.latest = checkpoints[-1][1]
    elif scanner.count:
        report.problems.append("no checkpoint in the export verified: none of its leaves are authenticated")
    if report.latest is not None and report.latest.tree_size < scanner.count:
        report.warnings.append(
            f"leaves {report.latest.tree_size}..{scanner.count - 1} are not covered by any checkpoint yet, "
            "so nothing signed commits to them"
        )

    for label, checkpoint in held:
        _check_previous_checkpoint(label, checkpoint, report.latest, scanner, report)
    _check_witnesses(report.latest, witnesses, min_witnesses, report)
    return report


def _check_checkpoints_against_leaves(
    checkpoints: Sequence[tuple[int, Checkpoint]], scanner: _LeafScanner, report: ExportReport
) -> None:
    previous: tuple[int, Checkpoint] | None = None
    for position, checkpoint in checkpoints:
        where = f"checkpoints.json entry {position} (tree_size {checkpoint.tree_size})"
        if previous is not None and checkpoint.tree_size < previous[1].tree_size:
            report.problems.append(
                f"{where}: checkpoint sizes went backwards (entry {previous[0]} has size "
                f"{previous[1].tree_size}): the log was truncated or rolled back and then re-signed"
            )
        previous = (position, checkpoint)
        if checkpoint.tree_size > scanner.count:
            report.problems.append(
                f"{where}: commits to {checkpoint.tree_size} leaves, but the export has only "
                f"{scanner.count}: leaves were removed (truncated)"
            )
        elif scanner.prefix_roots[checkpoint.tree_size] != checkpoint.root:
            report.problems.append(
                f"{where}: root {checkpoint.root.hex()} does not match the Merkle root of leaves "
                f"0..{checkpoint.tree_size - 1} ({scanner.prefix_roots[checkpoint.tree_size].hex()}): "
                f"leaves it covers were altered, removed, inserted or reordered after it was signed"
            )


def _check_previous_checkpoint(
    label: str, held: Checkpoint, latest: Checkpoint | None, scanner: _LeafScanner, report: ExportReport
) -> None:
    where = f"previous checkpoint {label} (tree_size {held.tree_size})"
    if held.tree_size > scanner.count:
        report.problems.append(
            f"truncated: the log is shorter than a checkpoint you hold: {where} commits to "
            f"{held.tree_size} leaves, the export has only {scanner.count}"
        )
        return
    actual_root = scanner.prefix_roots[held.tree_size]
    if actual_root != held.root:
        report.problems.append(
            f"rewritten: leaves 0..{held.tree_size - 1} differ from what checkpoint {label} committed to "
            f"(its root {held.root.hex()}, the export's leaves give {actual_root.hex()})"
        )
    if latest is None:
        return
    if held.tree_size > latest.tree_size:
        report.problems.append(
            f"{where} is newer than the export's latest checkpoint (size {latest.tree_size}): "
            f"checkpoints were removed from the export or the log was rolled back"
        )
        return
    if latest.tree_size > scanner.count:
        return  # already reported: the latest checkpoint covers leaves the export lacks
    # The verifier has seen every leaf (and kept the nodes this proof needs), so it can build the
    # consistency proof the live server would serve and check it, as the regulator would against the server.
    nodes = scanner.nodes
    proof = consistency_proof(
        first_size=held.tree_size,
        second_size=latest.tree_size,
        get_nodes=lambda ids: {node: nodes[node] for node in ids if node in nodes},
    )
    try:
        verify_consistency(
            first_size=held.tree_size,
            second_size=latest.tree_size,
            first_root=held.root,
            second_root=latest.root,
            proof=proof,
        )
    except VerificationError as error:
        report.problems.append(
            f"{where}: the consistency proof built from the export's leaves does not link it to the "
            f"export's latest checkpoint (size {latest.tree_size}): {error}"
        )


# ---------------------------------------------------------------------------------------------
# Evidence bundles (``assay-bundle/1``): a ZIP with a signed manifest, written by export_bundle
# ---------------------------------------------------------------------------------------------

BUNDLE_FORMAT = "assay-bundle/1"
"""Value of ``format`` in a bundle's ``manifest.json`` that this verifier understands."""

BUNDLE_MANIFEST = "manifest.json"
BUNDLE_SIGNATURE = "manifest.sig"
BUNDLE_KEYS = "keys/trail-keys.txt"
_MAX_MANIFEST_BYTES = 64 << 20  # a manifest lists files; 64 MiB is far beyond any real one
_MAX_SMALL_MEMBER = 16 << 20  # checkpoints, keys, consistency proofs: a few hundred bytes each
_CHUNK = 1 << 20


@dataclasses.dataclass
class BundleReport:
    """Outcome of :func:`verify_bundle`: what was checked, problems and warnings."""

    files: int = 0
    events: int = 0
    signed_by: VerifierKey | None = None
    bundle_keys: list[VerifierKey] | None = None  # set when the bundle's own keys were used (no trusted keys)
    checkpoint: Checkpoint | None = None
    cosignatures: list[Cosignature] | None = None  # set when witnesses were given: those that cosigned the checkpoint
    previous_size: int | None = None
    audits: int = 0  # audit results read
    recomputed: int = 0  # group checks whose verdicts were recomputed from their counts
    bound: int = 0  # audits whose results hash to what their audit.completed trail event recorded
    not_recomputable: int = 0
    problems: list[str] = dataclasses.field(default_factory=list)
    warnings: list[str] = dataclasses.field(default_factory=list)
    _suppressed: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing failed to verify."""
        return not self.problems

    def problem(self, message: str, *, limit: int | None = None) -> None:
        """Record a problem; with ``limit``, only the first ones of a repetitive kind are kept, then counted."""
        if limit is not None and len(self.problems) >= limit:
            self._suppressed += 1
            return
        self.problems.append(message)

    def summary(self) -> str:
        """One line describing what was verified."""
        parts = [f"OK: manifest signed by {self.signed_by.describe() if self.signed_by else '?'}"]
        parts.append(f"{self.files} files match it")
        if self.checkpoint is not None:
            parts.append(
                f"{self.events} trail events are included in the signed checkpoint of size "
                f"{self.checkpoint.tree_size} (root {self.checkpoint.root.hex()})"
            )
        if self.cosignatures is not None:
            parts.append(_witnessed(self.cosignatures).removeprefix("; "))
        if self.previous_size is not None:
            parts.append(f"the trail only grew since the previous export's checkpoint (size {self.previous_size})")
        if self.audits:
            recomputed = (
                f"the verdicts of {_counted(self.recomputed, 'group check')} of {_counted(self.audits, 'audit')} "
                "follow from their counts"
            )
            if self.not_recomputable:
                recomputed += f" ({_counted(self.not_recomputable, 'check')} not recomputable: see the warnings)"
            parts.append(recomputed)
            parts.append(f"the results of {self.bound} of those audits are those the trail recorded")
        return "; ".join(parts)


def _counted(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def parse_signature_line(text: bytes) -> NoteSignature:
    """Parse a detached signature written as one signed-note signature line (``— name base64(id || sig)``)."""
    try:
        line = text.decode("utf-8")
    except UnicodeDecodeError:
        raise VerificationError("manifest.sig is not UTF-8 text") from None
    if line.endswith("\n"):
        line = line[:-1]
    if "\n" in line or not line.startswith(_SIGNATURE_PREFIX):
        raise VerificationError("manifest.sig is not one signature line ('\u2014 <key name> <base64 signature>')")
    name, separator, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
    problem = key_name_problem(name)
    if problem or not separator:
        raise VerificationError(f"manifest.sig: {problem or 'no signature after the key name'}")
    raw = _decode_base64(encoded, "manifest.sig signature")
    if len(raw) != 4 + 64:
        raise VerificationError(f"manifest.sig holds {len(raw)} bytes; a key id and an Ed25519 signature are 68")
    return NoteSignature(name=name, key_id=raw[:4], signature=raw[4:])


def verify_detached_signature(
    message: bytes, signature_text: bytes, *, keys: Sequence[VerifierKey], what: str = "manifest.json"
) -> VerifierKey:
    """Check a detached signature line over ``message`` against trusted ``keys``; return the key that signed."""
    signature = parse_signature_line(signature_text)
    key = _index_keys(keys).get((signature.name, signature.key_id))
    if key is None:
        trusted = ", ".join(k.describe() for k in keys) or "none"
        raise VerificationError(
            f"manifest re-signed with another key: manifest.sig is signed by {signature.describe()}, which is not "
            f"a trusted key (trusted: {trusted})"
        )
    if not key.verify(message, signature.signature):
        raise VerificationError(
            f"manifest.sig does not verify with {key.describe()}: {what} was changed after it was signed, "
            "or the signature is corrupt"
        )
    return key


# What reading a member of a hostile ZIP can raise: a corrupt deflate stream (zlib.error), a bad
# CRC or header (BadZipFile), an encrypted member (RuntimeError), an unknown compression method
# (NotImplementedError), bzip2/lzma errors (OSError, ValueError, EOFError, lzma.LZMAError).
_ZIP_READ_ERRORS: tuple[type[Exception], ...] = (
    zipfile.BadZipFile,
    zlib.error,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    *((lzma.LZMAError,) if lzma is not None else ()),
)


def _zip_error(error: BaseException) -> str:
    """Why a member cannot be read, in words (never a traceback)."""
    if isinstance(error, RuntimeError) and "encrypted" in str(error):
        return "it is encrypted (an evidence bundle never is)"
    if isinstance(error, NotImplementedError):
        return f"it uses a compression method this verifier cannot read ({error})"
    if isinstance(error, zlib.error):
        return f"its compressed data is corrupt ({error})"
    if isinstance(error, VerificationError):
        return str(error)
    return f"the ZIP is damaged there ({type(error).__name__}: {error})"


def _read_member(archive: zipfile.ZipFile, name: str, limit: int) -> bytes:
    """A member's bytes, never more than ``limit``; raises :class:`VerificationError` saying why it cannot be read."""
    try:
        info = archive.getinfo(name)
        if info.file_size > limit:
            raise VerificationError(f"it is {info.file_size} bytes, more than the {limit} this file can be")
        with archive.open(info) as member:
            data = member.read(limit + 1)
        if len(data) > limit:
            raise VerificationError(f"it is larger than {limit} bytes")
    except KeyError:
        raise VerificationError(f"{name} cannot be read from the ZIP: it is not in the ZIP") from None
    except VerificationError as error:
        raise VerificationError(f"{name} cannot be read from the ZIP: {error}") from None
    except _ZIP_READ_ERRORS as error:
        raise VerificationError(f"{name} cannot be read from the ZIP: {_zip_error(error)}") from None
    return data


def _member_lines(archive: zipfile.ZipFile, name: str, *, size: int, line_limit: int) -> Generator[bytes, None, None]:
    """The lines of a member already matched against the manifest, each of at most ``line_limit`` bytes (newline
    included), never reading past the ``size`` the signed manifest gives. Raises :class:`_LineTooLong`."""
    remaining = size
    with archive.open(name) as member:
        for line_number in itertools.count(1):
            if remaining <= 0:
                return
            line = member.readline(min(line_limit, remaining) + 1)
            if not line:
                return
            if len(line) > line_limit:
                raise _LineTooLong(
                    f"{name} line {line_number} is longer than {line_limit} bytes, far longer than any line Assay "
                    "writes there: the file is not what it claims to be (or lost its newlines)"
                )
            remaining -= len(line)
            yield line


def _member_digest(archive: zipfile.ZipFile, name: str, limit: int) -> tuple[str, int]:
    # Streams the member and stops just past the size the manifest gives, so a hostile ZIP (a
    # "zip bomb") cannot make the verifier inflate more than the signed size allows.
    digest, size = hashlib.sha256(), 0
    with archive.open(name) as member:
        while size <= limit:
            chunk = member.read(min(_CHUNK, limit + 1 - size))
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _manifest_entries(manifest: dict[str, object], report: BundleReport) -> dict[str, tuple[str, int]]:
    files = manifest.get("files")
    if not isinstance(files, list):
        report.problem('manifest.json has no "files" list')
        return {}
    entries: dict[str, tuple[str, int]] = {}
    for position, entry in enumerate(files):
        if not isinstance(entry, dict):
            report.problem(f"manifest.json files[{position}] is not an object")
            continue
        path, sha256, size = entry.get("path"), entry.get("sha256"), entry.get("size")
        if (
            not isinstance(path, str)
            or not isinstance(sha256, str)
            or not _LOWER_HEX_HASH.fullmatch(sha256)
            or type(size) is not int
            or size < 0
        ):
            report.problem(f"manifest.json files[{position}] needs a path, a lowercase hex sha256 and a size")
            continue
        if path in entries or path in (BUNDLE_MANIFEST, BUNDLE_SIGNATURE):
            report.problem(f"manifest.json lists {path!r} twice (or lists the manifest itself)")
            continue
        entries[path] = (sha256, size)
    return entries


def _check_files(archive: zipfile.ZipFile, entries: dict[str, tuple[str, int]], report: BundleReport) -> dict[str, int]:
    """Every listed file present with its size and hash, nothing unlisted; returns the names that match, with their
    sizes (the only members the trail checks then read, and never past that size)."""
    names = [info.filename for info in archive.infolist()]
    seen: set[str] = set()
    odd: list[str] = []  # a ZIP of a million tiny members gets a count, not a million lines
    for name in names:
        if name in seen:
            odd.append(f"the ZIP holds two members named {name!r}: which one is meant is ambiguous")
        seen.add(name)
        if name not in entries and name not in (BUNDLE_MANIFEST, BUNDLE_SIGNATURE):
            odd.append(f"extra file: {name} is in the bundle but not in the signed manifest")
    report.problems.extend(odd[:_MAX_EVENT_PROBLEMS])
    if len(odd) > _MAX_EVENT_PROBLEMS:
        report.problem(f"extra file: ... and {len(odd) - _MAX_EVENT_PROBLEMS} more duplicate or unlisted members")
    good: dict[str, int] = {}
    for path, (sha256, size) in sorted(entries.items()):
        if path not in seen:
            report.problem(f"file removed: {path} is listed in the signed manifest but missing from the bundle")
            continue
        try:
            actual, actual_size = _member_digest(archive, path, size)
        except _ZIP_READ_ERRORS as error:
            report.problem(f"file changed: {path} cannot be read from the ZIP: {_zip_error(error)}")
            continue
        if actual_size < size:
            report.problem(f"file truncated: {path} has {actual_size} bytes, the signed manifest says {size}")
        elif actual_size > size:
            report.problem(f"file changed: {path} is longer than the {size} bytes the signed manifest says")
        elif actual != sha256:
            report.problem(f"file changed: the SHA-256 of {path} is {actual}, the signed manifest says {sha256}")
        else:
            good[path] = size
    report.files = len(good)
    return good


def _unchecked(name: object, what: str, good: Mapping[str, int], report: BundleReport) -> bool:
    """Whether the member ``name`` cannot be used for a trail check (then a problem says so): only members whose
    size and hash equal the signed manifest's are read again, so nothing unbounded or unsigned is parsed."""
    if isinstance(name, str) and name in good:
        return False
    shown = name if isinstance(name, str) else repr(name)
    report.problem(
        f"{what} not checked: {shown} is not a file that matches the signed manifest (see the problems above)"
    )
    return True


def _manifest_trail(manifest: dict[str, object], report: BundleReport) -> dict[str, object]:
    trail = manifest.get("trail")
    if not isinstance(trail, dict) or not isinstance(trail.get("checkpoint"), dict):
        report.problem('manifest.json has no "trail" object with a "checkpoint"')
        return {}
    return trail


def _check_bundle_checkpoint(
    archive: zipfile.ZipFile,
    trail: dict[str, object],
    *,
    keys: Sequence[VerifierKey],
    origin: str | None,
    good: Mapping[str, int],
    report: BundleReport,
) -> Checkpoint | None:
    declared = trail["checkpoint"]
    assert isinstance(declared, dict)
    name = declared.get("file")
    if not isinstance(name, str) or name not in archive.namelist():
        report.problem("the trail checkpoint named in the manifest is missing from the bundle")
        return None
    if _unchecked(name, "the trail (checkpoint, events, proofs)", good, report):
        return None
    try:
        checkpoint = verify_checkpoint(
            _read_member(archive, name, min(good[name], _MAX_SMALL_MEMBER)), keys=keys, origin=origin
        )
    except VerificationError as error:
        report.problem(f"{name}: {error}")
        return None
    if declared.get("tree_size") != checkpoint.tree_size or declared.get("root") != checkpoint.root.hex():
        report.problem(
            f"{name} is for tree size {checkpoint.tree_size} and root {checkpoint.root.hex()}, but the manifest "
            f"names size {declared.get('tree_size')!r} and root {declared.get('root')!r}"
        )
    return checkpoint


_MAX_EVENT_PROBLEMS = 20


def _check_events(
    archive: zipfile.ZipFile,
    trail: dict[str, object],
    checkpoint: Checkpoint,
    good: Mapping[str, int],
    report: BundleReport,
) -> None:
    """Every event's inclusion proof leads to the checkpoint's root; counts and order match the manifest."""
    events_name, proofs_name = trail.get("events_file"), trail.get("proofs_file")
    declared = trail.get("events")
    names = set(archive.namelist())
    if not isinstance(events_name, str) or not isinstance(proofs_name, str) or type(declared) is not int:
        report.problem('manifest.json "trail" needs "events_file", "proofs_file" and an integer "events"')
        return
    if events_name not in names or proofs_name not in names:
        report.problem(f"truncated trail: {events_name} or {proofs_name} is missing from the bundle")
        return
    if _unchecked(events_name, "trail events", good, report) or _unchecked(proofs_name, "trail events", good, report):
        return
    events = _member_lines(archive, events_name, size=good[events_name], line_limit=MAX_LEAF_BYTES + 1)
    proofs = _member_lines(archive, proofs_name, size=good[proofs_name], line_limit=_MAX_PROOF_LINE)
    count = 0
    try:
        count = _check_event_lines(events, proofs, events_name, proofs_name, checkpoint=checkpoint, report=report)
    except _LineTooLong as error:
        report.problem(f"{error}: the lines after it were not checked")
    except _ZIP_READ_ERRORS as error:
        report.problem(f"{events_name} or {proofs_name} cannot be read from the ZIP: {_zip_error(error)}")
    finally:
        events.close()
        proofs.close()
    report.events = count
    if count < declared:
        report.problem(f"truncated trail: {events_name} holds {count} events, the signed manifest says {declared}")
    elif count > declared:
        report.problem(f"{events_name} holds {count} events, more than the {declared} the signed manifest says")
    if report._suppressed:
        report.problems.append(f"... and {report._suppressed} more event problems not shown")


def _check_event_lines(
    events: Iterator[bytes],
    proofs: Iterator[bytes],
    events_name: str,
    proofs_name: str,
    *,
    checkpoint: Checkpoint,
    report: BundleReport,
) -> int:
    """Check each event with the proof on the same line; return how many events there are."""
    limit = len(report.problems) + _MAX_EVENT_PROBLEMS
    count = 0
    previous_seq = -1
    for line_number, (event_line, proof_line) in enumerate(itertools.zip_longest(events, proofs), start=1):
        if event_line is None or proof_line is None:
            missing = events_name if event_line is None else proofs_name
            report.problem(
                f"truncated trail: {missing} ends at line {line_number - 1}, but "
                f"{proofs_name if event_line is None else events_name} goes on",
            )
            break
        count += 1
        seq = _check_one_event(event_line, proof_line, line_number, checkpoint, report, limit=limit)
        if seq is not None:
            if seq <= previous_seq:
                report.problem(
                    f"{events_name} line {line_number}: event {seq} comes after event {previous_seq}: the events "
                    "are not in trail order",
                    limit=limit,
                )
            previous_seq = seq
    return count


def _check_one_event(
    event_line: bytes, proof_line: bytes, line_number: int, checkpoint: Checkpoint, report: BundleReport, *, limit: int
) -> int | None:
    where = f"trail event on line {line_number}"
    if not event_line.endswith(b"\n"):
        report.problem(f"truncated trail: {where} does not end with a newline", limit=limit)
    data = event_line[:-1] if event_line.endswith(b"\n") else event_line
    digest = leaf_hash(data)
    try:
        leaf = _strict_json(data)
        proof_record = _strict_json(proof_line)
    except (ValueError, UnicodeDecodeError) as error:
        report.problem(f"{where}: not valid JSON ({error})", limit=limit)
        return None
    seq = leaf.get("seq") if isinstance(leaf, dict) else None
    if type(seq) is not int:
        report.problem(f"{where} has no integer seq", limit=limit)
        return None
    where = f"trail event {seq} (line {line_number})"
    if not isinstance(proof_record, dict) or proof_record.get("seq") != seq:
        report.problem(f"{where}: its proof (same line of the proofs file) is for another event", limit=limit)
        return seq
    if proof_record.get("leaf_hash") != digest.hex():
        report.problem(
            f"{where}: the proof is for leaf hash {proof_record.get('leaf_hash')!r}, but the event's bytes hash to "
            f"{digest.hex()}: the event was changed",
            limit=limit,
        )
        return seq
    path = proof_record.get("proof")
    if not isinstance(path, list) or not all(isinstance(h, str) and _LOWER_HEX_HASH.fullmatch(h) for h in path):
        report.problem(f"{where}: the proof is not a list of lowercase hex hashes", limit=limit)
        return seq
    try:
        verify_inclusion(
            leaf_hash=digest,
            index=seq,
            tree_size=checkpoint.tree_size,
            proof=[bytes.fromhex(h) for h in path],
            root=checkpoint.root,
        )
    except VerificationError as error:
        report.problem(
            f"{where}: its inclusion proof does not lead to the signed checkpoint's root (a proof from another tree, "
            f"or an event that is not in the trail): {error}",
            limit=limit,
        )
    return seq


def _check_withheld(
    archive: zipfile.ZipFile,
    trail: dict[str, object],
    checkpoint: Checkpoint,
    good: Mapping[str, int],
    report: BundleReport,
) -> None:
    """Events withheld (they name a data subject) are proved by leaf hash: each proof leads to the signed root."""
    declared, name = trail.get("withheld", 0), trail.get("withheld_file")
    if not declared:
        return
    if type(declared) is not int or not isinstance(name, str) or name not in archive.namelist():
        report.problem("truncated trail: the withheld events named in the manifest are missing from the bundle")
        return
    if _unchecked(name, "withheld events", good, report):
        return
    limit = len(report.problems) + _MAX_EVENT_PROBLEMS
    count = 0
    lines = _member_lines(archive, name, size=good[name], line_limit=_MAX_PROOF_LINE)
    try:
        for line_number, line in enumerate(lines, start=1):
            count += 1
            try:
                record = _strict_json(line)
                if not isinstance(record, dict):
                    raise ValueError("not a JSON object")
                seq, digest, path = record.get("seq"), record.get("leaf_hash"), record.get("proof")
                if type(seq) is not int or not isinstance(digest, str) or not isinstance(path, list):
                    raise ValueError("needs seq, leaf_hash and proof")
                verify_inclusion(
                    leaf_hash=bytes.fromhex(digest),
                    index=seq,
                    tree_size=checkpoint.tree_size,
                    proof=[bytes.fromhex(h) for h in path],
                    root=checkpoint.root,
                )
            except (ValueError, TypeError, UnicodeDecodeError, VerificationError) as error:
                report.problem(
                    f"{name} line {line_number}: the withheld event's inclusion proof does not lead to the signed "
                    f"checkpoint's root (a proof from another tree?): {error}",
                    limit=limit,
                )
    except _LineTooLong as error:
        report.problem(f"{error}: the lines after it were not checked")
    except _ZIP_READ_ERRORS as error:
        report.problem(f"{name} cannot be read from the ZIP: {_zip_error(error)}")
    finally:
        lines.close()
    if count != declared:
        report.problem(f"truncated trail: {name} holds {count} withheld events, the signed manifest says {declared}")


def _check_bundle_consistency(
    archive: zipfile.ZipFile,
    trail: dict[str, object],
    *,
    keys: Sequence[VerifierKey],
    origin: str | None,
    checkpoint: Checkpoint,
    good: Mapping[str, int],
    report: BundleReport,
) -> Checkpoint | None:
    """The previous export's checkpoint (if the bundle has one) is signed and consistent with this one."""
    declared = trail.get("previous_checkpoint")
    if declared is None:
        return None
    name = declared.get("file") if isinstance(declared, dict) else None
    proof_name = "trail/consistency.json"
    names = set(archive.namelist())
    if not isinstance(name, str) or name not in names or proof_name not in names:
        report.problem("the previous export's checkpoint or its consistency proof is missing from the bundle")
        return None
    if _unchecked(name, "consistency with the previous export", good, report) or _unchecked(
        proof_name, "consistency with the previous export", good, report
    ):
        return None
    try:
        previous = verify_checkpoint(
            _read_member(archive, name, min(good[name], _MAX_SMALL_MEMBER)), keys=keys, origin=origin
        )
        document = _strict_json(_read_member(archive, proof_name, min(good[proof_name], _MAX_SMALL_MEMBER)))
    except (VerificationError, ValueError) as error:
        report.problem(f"{name} or {proof_name}: {error}")
        return None
    try:
        if not isinstance(document, dict):
            raise VerificationError(f"{proof_name} is not a JSON object")
        path = document.get("proof")
        if not isinstance(path, list) or not all(isinstance(h, str) and _LOWER_HEX_HASH.fullmatch(h) for h in path):
            raise VerificationError("the proof is not a list of lowercase hex hashes")
        verify_consistency(
            first_size=previous.tree_size,
            second_size=checkpoint.tree_size,
            first_root=previous.root,
            second_root=checkpoint.root,
            proof=[bytes.fromhex(h) for h in path],
        )
    except VerificationError as error:
        report.problem(
            f"not consistent: the previous export's checkpoint (size {previous.tree_size}) and this bundle's "
            f"(size {checkpoint.tree_size}) are not one growing trail: {error}"
        )
        return None
    report.previous_size = previous.tree_size
    return previous


def _check_held_checkpoint(
    label: str, held: Checkpoint, checkpoint: Checkpoint, previous: Checkpoint | None, report: BundleReport
) -> None:
    """A checkpoint the regulator kept must be matched by this bundle's trail."""
    where = f"the checkpoint you hold ({label}, size {held.tree_size})"
    if held.tree_size > checkpoint.tree_size:
        report.problem(
            f"truncated: this bundle's trail ends at size {checkpoint.tree_size}, but {where} covers more: events "
            "were removed or the trail was rolled back"
        )
        return
    for known in (checkpoint, previous):
        if known is not None and known.tree_size == held.tree_size:
            if known.root != held.root:
                report.problem(
                    f"not consistent: {where} has root {held.root.hex()}, but the trail this bundle proves has root "
                    f"{known.root.hex()} at that size: the trail was rewritten (it has forked)"
                )
            return
    if held.tree_size == 0:
        return
    sizes = ", ".join(str(k.tree_size) for k in (previous, checkpoint) if k is not None)
    report.problem(
        f"{where} cannot be checked with this bundle, which proves the trail only from size(s) {sizes}: "
        f"ask the server for GET /api/v1/trail/proofs/consistency?from={held.tree_size}&to={checkpoint.tree_size} "
        "and check it with 'verify.py consistency PROOF.json --first-checkpoint ... --second-checkpoint ...'"
    )


def _bundle_keys(
    archive: zipfile.ZipFile, trusted_keys: Sequence[VerifierKey] | None, report: BundleReport
) -> list[VerifierKey]:
    if trusted_keys is not None:
        return list(trusted_keys)
    try:
        text = _read_member(archive, BUNDLE_KEYS, _MAX_SMALL_MEMBER).decode("utf-8", "replace")
    except VerificationError as error:
        report.problem(str(error))
        return []
    keys, problems = parse_key_file(text)
    report.problems.extend(f"{BUNDLE_KEYS} {problem}" for problem in problems)
    report.bundle_keys = list(keys)
    return keys


def _signed_manifest(
    archive: zipfile.ZipFile, keys: Sequence[VerifierKey], report: BundleReport
) -> dict[str, object] | None:
    """The manifest, after checking its signature (a bad signature is a problem, but the rest is still checked)."""
    try:
        manifest_bytes = _read_member(archive, BUNDLE_MANIFEST, _MAX_MANIFEST_BYTES)
    except VerificationError as error:
        report.problem(str(error))
        return None
    try:
        report.signed_by = verify_detached_signature(
            manifest_bytes, _read_member(archive, BUNDLE_SIGNATURE, _MAX_SMALL_MEMBER), keys=keys
        )
    except VerificationError as error:
        report.problem(str(error))
    try:
        manifest = _strict_json(manifest_bytes)
    except ValueError as error:
        report.problem(f"manifest.json is not valid JSON: {error}")
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        shown = manifest.get("format") if isinstance(manifest, dict) else None
        report.problem(f"manifest.json format is {shown!r}, expected {BUNDLE_FORMAT!r}")
        return None
    return manifest


def _check_bundle_trail(
    archive: zipfile.ZipFile,
    manifest: dict[str, object],
    *,
    keys: Sequence[VerifierKey],
    origin: str | None,
    previous_checkpoints: Sequence[tuple[str, str | bytes]],
    good: Mapping[str, int],
    report: BundleReport,
) -> None:
    trail = _manifest_trail(manifest, report)
    if not trail:
        return
    manifest_origin = trail.get("origin")
    if origin is not None and manifest_origin != origin:
        report.problem(f"the manifest names trail origin {manifest_origin!r}, expected {origin!r}")
    if origin is None and isinstance(manifest_origin, str):
        origin = manifest_origin
    checkpoint = _check_bundle_checkpoint(archive, trail, keys=keys, origin=origin, good=good, report=report)
    if checkpoint is None:
        return
    report.checkpoint = checkpoint
    _check_events(archive, trail, checkpoint, good, report)
    _check_withheld(archive, trail, checkpoint, good, report)
    previous = _check_bundle_consistency(
        archive, trail, keys=keys, origin=origin, checkpoint=checkpoint, good=good, report=report
    )
    for label, note in previous_checkpoints:
        try:
            held = verify_checkpoint(note, keys=keys, origin=origin)
        except VerificationError as error:
            report.problem(f"previous checkpoint {label}: {error}")
            continue
        _check_held_checkpoint(label, held, checkpoint, previous, report)


def verify_bundle(
    path: str | Path,
    *,
    trusted_keys: Sequence[VerifierKey] | None = None,
    previous_checkpoints: Sequence[tuple[str, str | bytes]] = (),
    origin: str | None = None,
    witnesses: Sequence[WitnessKey] = (),
    min_witnesses: int = 0,
) -> BundleReport:
    """Verify an evidence bundle (a ZIP written by Assay's ``export_bundle``).

    ``trusted_keys``: verifier keys obtained independently; when ``None`` the bundle's own ``keys/trail-keys.txt``
    is used and recorded in ``report.bundle_keys``, and then the report proves nothing about who signed (whoever
    altered the bundle could have replaced those keys). ``previous_checkpoints``: ``(label, note text)`` pairs you
    kept. ``witnesses``: witness keys whose cosignatures on the bundle's checkpoint are counted; fewer than
    ``min_witnesses`` is a problem. A damaged ZIP is a problem in the report; raises :class:`InputError` only
    when ``path`` does not exist or is a directory.
    """
    path = Path(path)
    report = BundleReport()
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise InputError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a directory (for an exported trail folder use 'verify.py verify DIR')") from None
    except _ZIP_READ_ERRORS as error:
        report.problem(f"{path} is not a readable ZIP file: {_zip_error(error)}")
        return report
    with archive:
        names = set(archive.namelist())
        for required in (BUNDLE_MANIFEST, BUNDLE_SIGNATURE):
            if required not in names:
                report.problem(f"file removed: {required} is missing from the bundle")
        keys = _bundle_keys(archive, trusted_keys, report) if report.ok else []
        if report.ok and not keys:
            report.problem("no verifier keys: no signature can be checked")
        manifest = _signed_manifest(archive, keys, report) if keys else None
        if manifest is None:
            return report
        good = _check_files(archive, _manifest_entries(manifest, report), report)
        _check_bundle_trail(
            archive,
            manifest,
            keys=keys,
            origin=origin,
            previous_checkpoints=previous_checkpoints,
            good=good,
            report=report,
        )
        _check_witnesses(report.checkpoint, witnesses, min_witnesses, report)
        _check_audit_results(archive, manifest, good, report)
    return report


# ---------------------------------------------------------------------------------------------
# Audit verdicts recomputed from their counts
# ---------------------------------------------------------------------------------------------

_RESULTS_MEMBER = re.compile(r"audits/run-([0-9]+)/results\.json")
_MAX_RESULTS_BYTES = 64 << 20  # a run's results: tables of groups, a few MB for thousands of intersections
# Exact numbers as Assay writes them ("20/30", "0.8"): bounded, so "1e999999999" cannot make a giant integer.
_EXACT_TEXT = re.compile(r"-?[0-9]{1,60}(?:/[0-9]{1,60}|\.[0-9]{1,60})?")
_OPERATORS: dict[str, Callable[[Fraction, Fraction], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}
_ROW_STATUSES = frozenset(
    {"reference", "judged", "insufficient_small_group", "excluded_small_group", "excluded_below_share", "undefined"}
)
_UNSURE_STATUSES = frozenset({"insufficient_small_group", "undefined"})  # a check with one of these cannot pass
_RELATIVE_TOLERANCE = 1e-9  # decimals beside exact fractions are floats: one rounding, never a different value
GROUP_CHECKS = ("disparate_impact", "group_fairness")
"""The checks whose verdicts :func:`recompute_audit` recomputes from the counts in their results."""


class NotRecomputable(Exception):
    """The results lack what recomputing needs (counts, statuses, thresholds with their operators)."""


@dataclasses.dataclass
class Recomputation:
    """What recomputing one audit's group checks from their counts found."""

    recomputed: list[str] = dataclasses.field(default_factory=list)  # checks whose every verdict was recomputed
    disagreements: list[str] = dataclasses.field(default_factory=list)
    not_recomputable: list[str] = dataclasses.field(default_factory=list)  # warnings: never a pass claim
    notes: list[str] = dataclasses.field(default_factory=list)  # warnings: what the bundle cannot settle


def _exact(value: object, what: str) -> Fraction:
    """An exact number written as text ("4/5", "0.8") or a JSON number (a float means its shortest decimal)."""
    if type(value) is int:
        return Fraction(value)
    if type(value) is float:
        return Fraction(repr(value))  # the decimal a policy wrote (0.8), not the binary float's exact value
    if isinstance(value, str) and _EXACT_TEXT.fullmatch(value):
        try:
            return Fraction(value)
        except ZeroDivisionError:
            pass
    raise NotRecomputable(f"{what} is {_signed(value)}, not an exact number")


def _count(row: Mapping[str, object], key: str, where: str) -> int:
    value = row.get(key)
    if type(value) is not int or value < 0:
        raise NotRecomputable(f"{where} has no count {key!r} (a whole number)")
    return value


def _threshold(check: Mapping[str, object], name: str) -> tuple[Fraction, str] | None:
    """A threshold as judged: its exact value and the operator a value must meet to pass (None when not set)."""
    thresholds = check.get("thresholds")
    if not isinstance(thresholds, Mapping):
        raise NotRecomputable("its results name no thresholds")
    entry = thresholds.get(name)
    if entry is None:
        return None
    if (
        not isinstance(entry, Mapping)
        or not isinstance(entry.get("operator"), str)
        or entry["operator"] not in _OPERATORS
    ):
        raise NotRecomputable(f"threshold {name} has no operator (one of {', '.join(_OPERATORS)})")
    limit = _exact(entry["exact"] if entry.get("exact") is not None else entry.get("value"), f"threshold {name}")
    value = entry.get("value")
    if entry.get("exact") is not None and type(value) in (int, float) and not _close(value, limit):  # type: ignore[arg-type]
        raise NotRecomputable(f"threshold {name} says {entry['value']} and exactly {entry['exact']}")
    return limit, str(entry["operator"])


def _float(value: Fraction) -> float:
    try:
        return float(value)
    except OverflowError:  # counts of thousands of digits: no float is that large
        return float("inf") if value > 0 else float("-inf")


def _close(value: float, exact: Fraction) -> bool:
    try:
        return abs(value - _float(exact)) <= _RELATIVE_TOLERANCE * max(1.0, abs(_float(exact)))
    except OverflowError:  # an integer of thousands of digits where a rate belongs
        return False


def _text(value: Fraction | None) -> str:
    if value is None:
        return "undefined"
    try:
        text = f"{value.numerator}/{value.denominator}"
    except ValueError:  # more digits than Python converts to text
        text = "a fraction of thousands of digits"
    return f"{text if len(text) <= 60 else text[:60] + '...'} ({_float(value):.6g})"


def _signed(value: object) -> str:
    """A value from the signed results as JSON, cut short (a hostile one can be long)."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:80] + "..."


def _compare(row: Mapping[str, object], key: str, value: Fraction | None, where: str, problems: list[str]) -> None:
    """The signed decimal ``key`` and its exact text ``key_exact`` (when given) against the recomputed value."""
    signed, exact = row.get(key), row.get(f"{key}_exact")
    if value is None:
        if signed is not None or exact is not None:
            shown = _signed(signed if signed is not None else exact)
            problems.append(f"{where}: {key} from the counts is undefined, the signed results say {shown}")
        return
    if key in row and not (type(signed) in (int, float) and _close(signed, value)):  # type: ignore[arg-type]
        problems.append(f"{where}: {key} from the counts is {_text(value)}, the signed results say {_signed(signed)}")
    elif f"{key}_exact" in row:
        try:
            agrees = _exact(exact, key) == value
        except NotRecomputable:
            agrees = False
        if not agrees:
            problems.append(
                f"{where}: {key} from the counts is {_text(value)}, the signed results say {_signed(exact)}"
            )


def _groupings(check: Mapping[str, object]) -> list[tuple[str, list[Mapping[str, object]], Mapping[str, object]]]:
    groupings = check.get("groupings")
    if not isinstance(groupings, list):
        raise NotRecomputable("its results have no groupings")
    found = []
    for grouping in groupings:
        rows = grouping.get("groups") if isinstance(grouping, Mapping) else None
        if not isinstance(rows, list) or not all(isinstance(row, Mapping) for row in rows):
            raise NotRecomputable("a grouping has no list of groups")
        found.append((_shown(str(grouping.get("grouping"))), rows, grouping))
    return found


def _status(row: Mapping[str, object], where: str) -> str:
    status = row.get("status")
    if not isinstance(status, str) or status not in _ROW_STATUSES:
        raise NotRecomputable(f"{where} has no status saying whether it was judged (results of an older format?)")
    return str(status)


@dataclasses.dataclass
class _Judgement:
    """What recomputing one check collects: disagreements, notes, and the comparisons that fail or cannot be judged."""

    where: str
    problems: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    fails: list[str] = dataclasses.field(default_factory=list)
    unsure: list[str] = dataclasses.field(default_factory=list)

    def outcome(self, signed: object) -> str:
        """The check's signed outcome against the recomputed one (returned): fail exactly when a judged comparison
        fails; never pass while one could not be judged (other reasons may make it insufficient evidence)."""
        if self.fails and signed != "fail":
            self.problems.append(
                f"{self.where}: outcome from the counts is 'fail' ({self.fails[0]}), the signed outcome is {signed!r}"
            )
        elif not self.fails and signed == "fail":
            self.problems.append(
                f"{self.where}: every judged comparison meets its threshold, yet the signed outcome is 'fail'"
            )
        elif not self.fails and signed == "pass" and self.unsure:
            self.problems.append(
                f"{self.where}: signed 'pass', but {self.unsure[0]}: that is insufficient evidence, not a pass"
            )
        return "fail" if self.fails else ("insufficient_evidence" if self.unsure else "pass")


@dataclasses.dataclass(frozen=True)
class _Row:
    at: str  # where the row is, for messages
    name: str  # "grouping <g>, group <name>"
    row: Mapping[str, object]
    status: str
    count: int
    rate: Fraction | None


def _selection_rows(rows: Sequence[Mapping[str, object]], at: str, judgement: _Judgement) -> list[_Row]:
    parsed = []
    for row in rows:
        where = f"{at}, group {_shown(str(row.get('group')))}"
        count, selected, status = _count(row, "count", where), _count(row, "selected", where), _status(row, where)
        if selected > count:
            judgement.problems.append(f"{where}: {selected} selected of {count} rows is impossible")
            continue
        rate = Fraction(selected, count) if count else None
        parsed.append(_Row(where, where[len(judgement.where) + 2 :], row, status, count, rate))
    return parsed


def _recompute_disparate_impact(check: Mapping[str, object], judgement: _Judgement) -> None:
    threshold = _threshold(check, "impact_ratio_min")
    if threshold is None:
        raise NotRecomputable("threshold impact_ratio_min is not given")
    for grouping, rows, table in _groupings(check):
        at = f"{judgement.where}, grouping {grouping}"
        parsed = _selection_rows(rows, at, judgement)
        # The reference is the row reference_group names; it has status "reference" only when it can be judged
        # (a small or excluded reference keeps that status, and then no comparison with it is judged).
        references = [p for p in parsed if p.row.get("reference") is True]
        if [p.row.get("group") for p in references] != (
            [table["reference_group"]] if table.get("reference_group") else []
        ):
            judgement.problems.append(f"{at}: the rows marked reference do not match reference_group")
        reference = references[0] if len(references) == 1 else None
        base = reference.rate if reference is not None else None
        comparable = reference is not None and reference.status == "reference"
        known = sum(p.count for p in parsed)
        unknown = table.get("unknown")
        counted = unknown.get("count") if isinstance(unknown, Mapping) else None
        # Every row of the data, unknowns included: the base of LL144's 2% exclusion (6 RCNY 5-301(d)).
        every = known + counted if type(counted) is int and counted >= 0 else known
        for p in parsed:
            _impact_row(
                p,
                base=base,
                comparable=comparable,
                known=known,
                every=every,
                threshold=threshold,
                check=check,
                judgement=judgement,
            )
        judged = [p for p in parsed if p.status in ("reference", "judged") and p.rate is not None]
        top = max(judged, key=lambda p: p.rate or 0, default=None)
        if base is not None and top is not None and top.rate is not None and top.rate > base:
            judgement.notes.append(
                f"{at}: the reference group {table.get('reference_group')} (rate {_text(base)}) is not the most "
                f"selected judged group: {top.row.get('group')} has {_text(top.rate)}"
            )
        if len(judged) < 2:
            judgement.unsure.append(f"grouping {grouping} has fewer than two groups to compare")
        _check_unknown(check, table, known, grouping, judgement)


def _impact_row(
    p: _Row,
    *,
    base: Fraction | None,
    comparable: bool,
    known: int,
    every: int,
    threshold: tuple[Fraction, str],
    check: Mapping[str, object],
    judgement: _Judgement,
) -> None:
    """One group's rate, ratio and verdict from its counts against what its row says. ``comparable``: the
    reference can be judged, so every other group's status is its own. ``known``: the grouping's rows whose
    category is known; ``every``: all its rows, unknowns included."""
    problems, status = judgement.problems, p.status
    ratio = p.rate / base if p.rate is not None and base else None
    _compare(p.row, "selection_rate", p.rate, p.at, problems)
    _compare(p.row, "impact_ratio", ratio, p.at, problems)
    if known:
        _compare(p.row, "share", Fraction(p.count, known), p.at, problems)
    if every:
        _compare(p.row, "share_of_rows", Fraction(p.count, every), p.at, problems)
    own = comparable or p.row.get("reference") is True  # else it carries the reference's status
    min_size = check.get("min_group_size")
    if (
        type(min_size) is int
        and own
        and (
            (p.count < min_size and status in ("reference", "judged"))
            or (p.count >= min_size and status in ("insufficient_small_group", "excluded_small_group"))
        )
    ):
        problems.append(f"{p.at}: {p.count} rows against a minimum group size of {min_size}, status {status}")
    if own and status == "excluded_below_share":
        _check_exclusion(p, every, check, problems)
    if status == "undefined" and ratio is not None:
        problems.append(f"{p.at}: status undefined, but the counts give impact ratio {_text(ratio)}")
    if status in _UNSURE_STATUSES:
        judgement.unsure.append(f"{p.name} is {status}")
    if status != "judged":
        if p.row.get("passes") is not None:
            problems.append(
                f"{p.at}: status {status} is not judged, yet the signed results say passes {p.row['passes']}"
            )
        return
    if ratio is None or not comparable:
        problems.append(f"{p.at}: judged, but it has no ratio to a reference that can be judged")
        return
    minimum, op = threshold
    passes = _OPERATORS[op](ratio, minimum)
    if not passes:
        judgement.fails.append(f"{p.name}: impact ratio {_text(ratio)}")
    if p.row.get("passes") is not passes:
        problems.append(
            f"{p.at}: from the counts ({p.row.get('selected')} selected of {p.count}) the impact ratio is "
            f"{_text(ratio)}, which {'passes' if passes else 'fails'} ({op} {_text(minimum)}); the signed results "
            f"say passes {json.dumps(p.row.get('passes'))}"
        )


def _check_exclusion(p: _Row, every: int, check: Mapping[str, object], problems: list[str]) -> None:
    """A category left out below the share threshold: only with the auditor's justification, and only when its
    share of all the rows (unknowns included: "less than 2% of the data being used for the bias audit", 6 RCNY
    5-301(d)) really does not meet the threshold."""
    if not str(p.row.get("exclusion_justification") or "").strip():
        problems.append(f"{p.at}: excluded below the share threshold without the auditor's justification")
    limit = _threshold(check, "exclude_groups_below_share")
    if limit is not None and every and _OPERATORS[limit[1]](Fraction(p.count, every), limit[0]):
        problems.append(
            f"{p.at}: excluded below the share threshold, but its share {_text(Fraction(p.count, every))} meets "
            f"{limit[1]} {_text(limit[0])}"
        )


def _check_unknown(
    check: Mapping[str, object], table: Mapping[str, object], known: int, grouping: str, judgement: _Judgement
) -> None:
    """The unknown category's share of all the grouping's rows, and the policy's maximum of it (if any)."""
    unknown = table.get("unknown")
    if not (isinstance(unknown, Mapping) and type(unknown.get("count")) is int and unknown["count"] >= 0):
        return
    total = known + unknown["count"]
    share = Fraction(unknown["count"], total) if total else None
    _compare(unknown, "share", share, f"{judgement.where}, grouping {grouping}, unknown", judgement.problems)
    limit = _threshold(check, "max_unknown_share")
    if limit is not None and share is not None and not _OPERATORS[limit[1]](share, limit[0]):
        judgement.unsure.append(
            f"grouping {grouping}: an unknown share of {_text(share)} is not {limit[1]} {_text(limit[0])}"
        )


_FAIRNESS_SUMMARIES = ("demographic_parity_difference", "equalized_odds_difference")
_FAIRNESS_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
_SPREAD_OF = {"demographic_parity_difference": (0,), "equalized_odds_difference": (1, 2)}  # positions in rates


def _spread(judged: Sequence[tuple[str, list[Fraction | None]]], metric: str) -> tuple[Fraction | None, list[str]]:
    """A summary over the judged groups: the largest minus the smallest rate (equalized odds: the larger of the
    TPR and FPR spreads), over the groups whose rate is defined, and the groups whose rate is not (0/0). None when
    a rate is defined for no group. A spread that fails on the defined rates fails: more rates only widen it."""
    spreads: list[Fraction] = []
    undefined: set[str] = set()
    for position in _SPREAD_OF[metric]:
        values = [rates[position] for _, rates in judged if rates[position] is not None]
        undefined.update(name for name, rates in judged if rates[position] is None)
        if not values:
            return None, sorted(undefined)
        spreads.append(max(values) - min(values))  # type: ignore[type-var,operator]
    return max(spreads), sorted(undefined)


def _fairness_rates(row: Mapping[str, object], where: str, problems: list[str]) -> tuple[str, list[Fraction | None]]:
    """A group's status and its selection rate, TPR and FPR from tp, fp, tn, fn (checked against its row)."""
    tp, fp, tn, fn = (_count(row, key, where) for key in ("tp", "fp", "tn", "fn"))
    n = tp + fp + tn + fn
    if row.get("count", n) != n:
        problems.append(f"{where}: count {row.get('count')} is not tp + fp + tn + fn = {n}")
    status = _status(row, where)
    rates = [
        Fraction(tp + fp, n) if n else None,
        Fraction(tp, tp + fn) if tp + fn else None,
        Fraction(fp, fp + tn) if fp + tn else None,
    ]
    for key, rate in zip(_FAIRNESS_RATES, rates, strict=True):
        _compare(row, key, rate, where, problems)
    return status, rates


def _recompute_group_fairness(check: Mapping[str, object], judgement: _Judgement) -> None:
    limits = {metric: _threshold(check, f"{metric}_max") for metric in _FAIRNESS_SUMMARIES}
    for grouping, rows, table in _groupings(check):
        at = f"{judgement.where}, grouping {grouping}"
        judged = []
        known = 0
        for row in rows:
            name = _shown(str(row.get("group")))
            status, rates = _fairness_rates(row, f"{at}, group {name}", judgement.problems)
            known += row["count"] if type(row.get("count")) is int else 0  # type: ignore[operator]
            if status in _UNSURE_STATUSES:
                judgement.unsure.append(f"grouping {grouping}, group {name} is {status}")
            if status in ("reference", "judged"):
                judged.append((name, rates))
        _check_unknown(check, table, known, grouping, judgement)
        summary = table.get("summary")
        if len(judged) < 2:
            judgement.unsure.append(f"grouping {grouping} has fewer than two groups to compare")
            continue
        summary = summary if isinstance(summary, Mapping) else {}
        for metric in _FAIRNESS_SUMMARIES:
            _judge_summary(
                metric, judged=judged, limit=limits[metric], summary=summary, grouping=grouping, judgement=judgement
            )


def _judge_summary(
    metric: str,
    *,
    judged: Sequence[tuple[str, list[Fraction | None]]],
    limit: tuple[Fraction, str] | None,
    summary: Mapping[str, object],
    grouping: str,
    judgement: _Judgement,
) -> None:
    """One summary of one grouping from the counts, against its signed value and verdict."""
    at = f"{judgement.where}, grouping {grouping}"
    value, undefined = _spread(judged, metric)
    # The exact text is the spread over the groups whose rate is defined; the decimal (fairlearn's) is over every
    # judged group, so it is compared only when every rate is defined.
    signed = {key: summary[key] for key in (f"{metric}_exact",) + (() if undefined else (metric,)) if key in summary}
    _compare(signed, metric, value, at, judgement.problems)
    if limit is None:
        return
    passes: bool | None = None
    if value is not None and not _OPERATORS[limit[1]](value, limit[0]):
        passes = False
        judgement.fails.append(f"grouping {grouping}: {metric} {_text(value)} is not {limit[1]} {_text(limit[0])}")
    elif value is None or undefined:
        judgement.unsure.append(f"grouping {grouping}: {metric} is undefined for {', '.join(undefined) or 'all'}")
    else:
        passes = True
    recorded = summary.get("passes")
    if isinstance(recorded, Mapping) and metric in recorded and recorded[metric] is not passes:
        judgement.problems.append(
            f"{at}: {metric} {_text(value)} {limit[1]} {_text(limit[0])} gives passes {json.dumps(passes)} from the "
            f"counts, the signed results say passes {json.dumps(recorded[metric])}"
        )


_RECOMPUTERS: dict[str, Callable[[Mapping[str, object], _Judgement], None]] = {
    "disparate_impact": _recompute_disparate_impact,
    "group_fairness": _recompute_group_fairness,
}


def recompute_audit(document: Mapping[str, object], *, label: str = "audit") -> Recomputation:
    """Recompute, from the counts in an audit's results (a bundle's ``audits/run-<id>/results.json``), every rate,
    ratio and threshold verdict of its group checks, and compare them with the signed results (see the module
    docstring). ``label`` names the audit in messages. Pure: reads nothing else."""
    found = Recomputation()
    if document.get("status", "done") != "done":  # it did not complete: no verdict, nothing judged
        if document.get("verdict") is not None:
            found.disagreements.append(f"{label}: it did not complete, yet it has a verdict")
        return found
    results = document.get("results")
    checks = results.get("checks") if isinstance(results, Mapping) else None
    if not isinstance(checks, Mapping):
        found.not_recomputable.append(f"{label}: not recomputable: it has no results by check")
        return found
    rows = document.get("checks")
    listed = (
        {c["check"]: c for c in rows if isinstance(c, Mapping) and isinstance(c.get("check"), str)}
        if isinstance(rows, list)
        else {}
    )
    for name in GROUP_CHECKS:
        check = checks.get(name)
        if not isinstance(check, Mapping):
            continue
        where = f"{label}, {name}"
        entry = listed.get(name)
        if entry is not None and (
            entry.get("outcome") != check.get("outcome")
            or entry.get("details") != {k: v for k, v in check.items() if k not in ("outcome", "required", "reason")}
        ):
            found.disagreements.append(f"{where}: the check's row and the run's results say different things")
        if "groupings" not in check and check.get("outcome") not in ("pass", "fail"):
            continue  # it judged nothing (could not run, or a role is missing): no claim to recompute
        judgement = _Judgement(where)
        try:
            _RECOMPUTERS[name](check, judgement)
        except NotRecomputable as why:
            found.not_recomputable.append(f"{where}: not recomputable: {why}")
            continue
        judgement.outcome(check.get("outcome"))
        found.disagreements.extend(f"recomputation disagrees: {problem}" for problem in judgement.problems)
        roles = document.get("column_roles")
        if not (isinstance(roles, Mapping) and roles.get("reference_groups")):
            found.notes.extend(f"{note} (right only if the policy named that reference)" for note in judgement.notes)
        found.recomputed.append(name)
    _check_verdict(document, checks, label, found.disagreements)
    return found


def _check_verdict(
    document: Mapping[str, object], checks: Mapping[str, object], label: str, problems: list[str]
) -> None:
    """The run's verdict from its checks' signed outcomes, by Assay's rule: fail when any check fails; else
    insufficient evidence when a required check is; else pass when at least one check passed."""
    outcomes = [(c.get("outcome"), c.get("required", True)) for c in checks.values() if isinstance(c, Mapping)]
    if any(outcome == "fail" for outcome, _ in outcomes):
        expected = "fail"
    elif any(outcome != "pass" and required for outcome, required in outcomes) or not outcomes:
        expected = "insufficient_evidence"
    else:
        expected = "pass" if any(outcome == "pass" for outcome, _ in outcomes) else "insufficient_evidence"
    results = document.get("results")
    recorded = results.get("verdict") if isinstance(results, Mapping) else None
    for where, signed in (("verdict", document.get("verdict")), ("results' verdict", recorded)):
        if signed != expected:
            problems.append(
                f"recomputation disagrees: {label}: its checks' outcomes give the verdict {expected!r}, the signed "
                f"{where} is {signed!r}"
            )


def results_sha256(document: Mapping[str, object]) -> set[str]:
    """The SHA-256 Assay records in an audit's ``audit.completed`` trail event, of the run's verdict, results and
    error in canonical JSON (sorted keys, no spaces, UTF-8), from a bundle's results.json. A set: results.json
    writes an empty verdict or error as null, and the hash was of the stored value, which may be ""."""
    found = set()
    for verdict in {document.get("verdict"), "" if document.get("verdict") is None else document.get("verdict")}:
        for error in {document.get("error"), "" if document.get("error") is None else document.get("error")}:
            value = {"verdict": verdict, "results": document.get("results"), "error": error}
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            found.add(hashlib.sha256(text.encode("utf-8")).hexdigest())
    return found


_EVENT_READ_ERRORS: tuple[type[Exception], ...] = (_LineTooLong, *_ZIP_READ_ERRORS)


def _recorded_results(
    archive: zipfile.ZipFile, manifest: Mapping[str, object], good: Mapping[str, int]
) -> dict[int, tuple[int, str]]:
    """The results hash each audit run's last ``audit.completed`` event in the bundle's trail records, by run id:
    ``(seq, sha256)``. The events' inclusion in the signed checkpoint is checked with the rest of the trail."""
    trail = manifest.get("trail")
    name = trail.get("events_file") if isinstance(trail, Mapping) else None
    if not isinstance(name, str) or name not in good:
        return {}
    recorded: dict[int, tuple[int, str]] = {}
    try:
        for line in _member_lines(archive, name, size=good[name], line_limit=MAX_LEAF_BYTES + 1):
            if b'"audit.completed"' not in line:
                continue  # most events are something else: not parsed twice
            try:
                leaf = _strict_json(line)
            except (ValueError, UnicodeDecodeError):
                continue  # reported by the trail's checks
            if not isinstance(leaf, dict) or leaf.get("action") != "audit.completed":
                continue
            payload = leaf.get("payload")
            if not isinstance(payload, dict):
                continue
            run, digest, seq = payload.get("run"), payload.get("results_sha256"), leaf.get("seq")
            if type(run) is int and isinstance(digest, str) and type(seq) is int:
                recorded[run] = (seq, digest)
    except _EVENT_READ_ERRORS:
        pass  # reported by the trail's checks
    return recorded


def _check_recorded(
    document: Mapping[str, object], recorded: Mapping[int, tuple[int, str]], label: str, report: BundleReport
) -> None:
    """The results are those the trail recorded when the audit completed (an edit consistent with itself, re-signed
    with the real key, is still caught here)."""
    run = document.get("run")
    if type(run) is not int or run not in recorded:
        report.warnings.append(
            f"{label}: its audit.completed event is not in this bundle's trail (the export's date range may leave it "
            "out), so its results are not tied to the trail"
        )
        return
    seq, digest = recorded[run]
    if digest not in results_sha256(document):
        report.problem(
            f"results not as recorded: {label}: the SHA-256 of its verdict, results and error is "
            f"{sorted(results_sha256(document))[0]}, the trail's audit.completed event {seq} recorded {_shown(digest)}"
        )
    else:
        report.bound += 1


def _check_audit_results(
    archive: zipfile.ZipFile, manifest: Mapping[str, object], good: Mapping[str, int], report: BundleReport
) -> None:
    """Recompute the verdicts of every audit in the bundle (only members that match the signed manifest), and tie
    its results to the trail."""
    recorded = _recorded_results(archive, manifest, good)
    for name in sorted(good, key=lambda n: (len(n), n)):
        if not _RESULTS_MEMBER.fullmatch(name):
            continue
        label = f"audit run {_RESULTS_MEMBER.fullmatch(name).group(1)}"  # type: ignore[union-attr]
        if good[name] > _MAX_RESULTS_BYTES:
            report.warnings.append(f"{label}: not recomputable: {name} is larger than {_MAX_RESULTS_BYTES} bytes")
            continue
        try:
            document = _strict_json(_read_member(archive, name, good[name]))
        except (VerificationError, ValueError) as error:
            report.problem(f"{name} is not a readable JSON document: {error}")
            continue
        except MemoryError:
            report.warnings.append(f"{label}: not recomputable: {name} does not fit in this computer's memory")
            continue
        if not isinstance(document, Mapping):
            report.problem(f"{name} is not a JSON object")
            continue
        try:
            _check_recorded(document, recorded, label, report)
            found = recompute_audit(document, label=label)
        except RecursionError:  # nesting the parser allowed, but comparing it does not: Assay writes nothing so deep
            report.problem(f"{name} is nested too deeply to be an audit's results")
            continue
        report.audits += 1
        report.recomputed += len(found.recomputed)
        report.not_recomputable += len(found.not_recomputable)
        report.warnings.extend([*found.not_recomputable, *found.notes])
        for problem in found.disagreements:
            report.problem(problem, limit=_MAX_EVENT_PROBLEMS * 5)


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------


def _load_keys_argument(path: str) -> list[VerifierKey]:
    raw = _read_bytes(Path(path))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None
    keys, problems = parse_key_file(text)
    if problems:
        raise InputError(f"{path}: " + "; ".join(problems))
    if not keys:
        raise InputError(f"{path} contains no verifier keys")
    return keys


def _load_proof_file(path: str) -> dict[str, object]:
    raw = _read_bytes(Path(path))
    try:
        document = _strict_json(raw)
    except ValueError as error:
        raise InputError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(document, dict):
        raise InputError(f"{path} is not a JSON object")
    return document


def _json_int(document: dict[str, object], field: str, path: str) -> int:
    value = document.get(field)
    if type(value) is not int:
        raise InputError(f"{path}: field {field!r} must be an integer")
    return value


def _json_hash(value: object, what: str, path: str) -> bytes:
    # Lowercase hex only: one spelling per hash keeps proof files diff-able and unambiguous.
    if not isinstance(value, str) or len(value) % 2 or not re.fullmatch(r"[0-9a-f]*", value):
        raise InputError(f"{path}: {what} must be a lowercase hex string")
    return bytes.fromhex(value)


def _json_hash_list(document: dict[str, object], field: str, path: str) -> list[bytes]:
    value = document.get(field)
    if not isinstance(value, list):
        raise InputError(f"{path}: field {field!r} must be a list of lowercase hex strings")
    return [_json_hash(item, f"{field}[{position}]", path) for position, item in enumerate(value)]


def _check_against_checkpoint(
    label: str, note_path: str, *, keys: Sequence[VerifierKey], size: int, root: bytes, problems: list[str]
) -> None:
    try:
        checkpoint = verify_checkpoint(_read_bytes(Path(note_path)), keys=keys)
    except VerificationError as error:
        problems.append(f"{label} {note_path}: {error}")
        return
    if checkpoint.tree_size != size:
        problems.append(f"{label} {note_path} is for tree size {checkpoint.tree_size}, the proof for {size}")
    if checkpoint.root != root:
        problems.append(f"{label} {note_path} has root {checkpoint.root.hex()}, the proof claims {root.hex()}")


EXIT_VERIFIED = 0
"""Exit status: everything verified, against keys you trust (or explicitly accepted)."""
EXIT_FAILED = 1
"""Exit status: a check failed (each problem is printed on a ``FAIL:`` line)."""
EXIT_NOT_TRUSTED = 2
"""Exit status: not verified against keys you trust (no ``--trusted-keys``), a usage error, or unreadable input."""


def _report(problems: Sequence[str], success: str) -> int:
    if problems:
        for problem in problems:
            print(f"FAIL: {problem}", file=sys.stderr)
        print(f"verification FAILED: {len(problems)} problem(s); first: {problems[0]}", file=sys.stderr)
        return EXIT_FAILED
    print(success)
    return EXIT_VERIFIED


def key_fingerprint(key: VerifierKey) -> str:
    """SHA-256 of the raw Ed25519 public key, in hex: what to compare over the phone or on paper."""
    return hashlib.sha256(key.public_key).hexdigest()


def _report_with_own_keys(
    problems: Sequence[str],
    success: str,
    *,
    keys: Sequence[VerifierKey],
    source: str,
    what: str,
    flag: str,
    accepted: bool,
) -> int:
    """Report a verification whose signatures were checked against keys that came with the input itself.

    Exits 0 only when the user accepted those keys explicitly (``flag``) after comparing them out of band: whoever
    could alter the input could also have replaced its keys and signed everything again.
    """
    print(
        f"WARNING: no --trusted-keys given: the signatures were checked against {source}, which came with the "
        f"{what} itself. Whoever could alter the {what} could also replace those keys and sign everything again. "
        "Compare these with the keys the organisation publishes (its /.well-known/assay-keys, obtained separately, "
        "or read to you over the phone):",
        file=sys.stderr,
    )
    for key in keys:
        print(f"  {key.describe()}: {key.text()}", file=sys.stderr)
        print(f"      SHA-256 fingerprint {key_fingerprint(key)}", file=sys.stderr)
    if problems:
        return _report(problems, success)
    if accepted:
        return _report(problems, f"{success} (against the {what}'s own keys, which you accepted with {flag})")
    print(
        f"NOT VERIFIED against keys you trust: every check holds, but only against the {what}'s own keys. Run again "
        f"with --trusted-keys FILE (keys obtained independently), or with {flag} once you have compared the keys "
        f"above with the published ones. Exit status {EXIT_NOT_TRUSTED}.",
        file=sys.stderr,
    )
    return EXIT_NOT_TRUSTED


def _read_previous_checkpoints(paths: Sequence[str]) -> list[tuple[str, bytes]]:
    return [(path, _read_bytes(Path(path), MAX_NOTE_BYTES)) for path in paths]


def _witness_arguments(args: argparse.Namespace) -> tuple[list[WitnessKey], int]:
    """``--witness KEY`` (key text, or a file of them, one per line) and ``--min-witnesses K`` (default: 1 when any
    witness is given)."""
    witnesses: list[WitnessKey] = []
    for value in args.witness:
        path = Path(value)
        lines = [value]
        if "+" not in value and path.is_file():
            lines = [line.strip() for line in _read_bytes(path).decode("utf-8", "replace").splitlines()]
        for line in lines:
            if not line or line.startswith("#"):
                continue
            try:
                key = parse_witness_key(line)
            except VerificationError as error:
                raise InputError(str(error)) from None
            if key not in witnesses:
                witnesses.append(key)
    minimum = args.min_witnesses if args.min_witnesses is not None else (1 if witnesses else 0)
    if minimum < 0 or minimum > len(witnesses):
        raise InputError(f"--min-witnesses {minimum} needs at least that many --witness keys ({len(witnesses)} given)")
    return witnesses, minimum


def _add_witness_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--witness",
        metavar="KEY",
        action="append",
        default=[],
        help="a witness's key (<name>+<key id>+<base64>, type 0x04) or a file of them; repeat for several",
    )
    parser.add_argument(
        "--min-witnesses",
        metavar="K",
        type=int,
        help="fail unless at least K of the --witness keys cosigned the checkpoint (default: 1 with --witness)",
    )


def _command_verify(args: argparse.Namespace) -> int:
    witnesses, minimum = _witness_arguments(args)
    return _verify_and_report(
        args,
        lambda trusted, previous: verify_export(
            args.directory,
            trusted_keys=trusted,
            previous_checkpoints=previous,
            origin=args.origin,
            witnesses=witnesses,
            min_witnesses=minimum,
        ),
        own_keys="export_keys",
        source=str(Path(args.directory) / "keys.txt"),
        what="export",
        flag="--trust-export-keys",
        accepted=args.trust_export_keys,
    )


def _command_bundle(args: argparse.Namespace) -> int:
    witnesses, minimum = _witness_arguments(args)
    return _verify_and_report(
        args,
        lambda trusted, previous: verify_bundle(
            args.bundle,
            trusted_keys=trusted,
            previous_checkpoints=previous,
            origin=args.origin,
            witnesses=witnesses,
            min_witnesses=minimum,
        ),
        own_keys="bundle_keys",
        source=BUNDLE_KEYS,
        what="bundle",
        flag="--trust-bundle-keys",
        accepted=args.trust_bundle_keys,
    )


def _verify_and_report(
    args: argparse.Namespace,
    verify: Callable[[Any, list[tuple[str, bytes]]], Any],
    *,
    own_keys: str,
    source: str,
    what: str,
    flag: str,
    accepted: bool,
) -> int:
    """The folder and bundle commands: verify with the keys the user trusts (or, without them, the keys the
    ``what`` carries, reported as not trusted unless ``flag`` accepted them), then print the verdict."""
    if args.trusted_keys and accepted:
        raise InputError(f"--trusted-keys and {flag} exclude each other")
    trusted = _load_keys_argument(args.trusted_keys) if args.trusted_keys else None
    report = verify(trusted, _read_previous_checkpoints(args.previous_checkpoint))
    for warning in report.warnings:
        print(f"WARNING: {warning}", file=sys.stderr)
    keys = getattr(report, own_keys)
    if keys is None:
        return _report(report.problems, report.summary())
    return _report_with_own_keys(
        report.problems, report.summary(), keys=keys, source=source, what=what, flag=flag, accepted=accepted
    )


def _command_inclusion(args: argparse.Namespace) -> int:
    if bool(args.checkpoint) != bool(args.trusted_keys):
        raise InputError("--checkpoint and --trusted-keys must be given together")
    document = _load_proof_file(args.proof)
    index = _json_int(document, "leaf_index", args.proof)
    tree_size = _json_int(document, "tree_size", args.proof)
    leaf = _json_hash(document.get("leaf_hash"), "field 'leaf_hash'", args.proof)
    root = _json_hash(document.get("root"), "field 'root'", args.proof)
    proof = _json_hash_list(document, "proof", args.proof)
    problems: list[str] = []
    try:
        verify_inclusion(leaf_hash=leaf, index=index, tree_size=tree_size, proof=proof, root=root)
    except VerificationError as error:
        problems.append(f"inclusion proof does not verify: {error}")
    if args.checkpoint:
        keys = _load_keys_argument(args.trusted_keys)
        _check_against_checkpoint(
            "checkpoint", args.checkpoint, keys=keys, size=tree_size, root=root, problems=problems
        )
    if args.checkpoint or problems:
        return _report(
            problems,
            f"OK: leaf {index} is included in the tree of size {tree_size} with root {root.hex()} (checkpoint "
            "signature verified)",
        )
    # Without a signed checkpoint the proof only agrees with a root the proof file itself names: anyone can make
    # such a file. Say what holds, and exit 2, so that `verify.py inclusion x && accept` is never fooled.
    print(f"the proof is consistent: leaf {index} is in a tree of size {tree_size} with root {root.hex()}")
    print(
        "NOT VERIFIED: no checkpoint given, so that root is not authenticated; pass --checkpoint HELD.note "
        "--trusted-keys KEYS",
        file=sys.stderr,
    )
    return EXIT_NOT_TRUSTED


def _command_consistency(args: argparse.Namespace) -> int:
    uses_checkpoint = bool(args.first_checkpoint or args.second_checkpoint)
    if uses_checkpoint != bool(args.trusted_keys):
        raise InputError("--trusted-keys is required with, and only with, --first/--second-checkpoint")
    document = _load_proof_file(args.proof)
    first_size = _json_int(document, "first_size", args.proof)
    second_size = _json_int(document, "second_size", args.proof)
    first_root = _json_hash(document.get("first_root"), "field 'first_root'", args.proof)
    second_root = _json_hash(document.get("second_root"), "field 'second_root'", args.proof)
    proof = _json_hash_list(document, "proof", args.proof)
    problems: list[str] = []
    try:
        verify_consistency(
            first_size=first_size,
            second_size=second_size,
            first_root=first_root,
            second_root=second_root,
            proof=proof,
        )
    except VerificationError as error:
        problems.append(f"consistency proof does not verify: {error}")
    if uses_checkpoint:
        keys = _load_keys_argument(args.trusted_keys)
        if args.first_checkpoint:
            _check_against_checkpoint(
                "first checkpoint",
                args.first_checkpoint,
                keys=keys,
                size=first_size,
                root=first_root,
                problems=problems,
            )
        if args.second_checkpoint:
            _check_against_checkpoint(
                "second checkpoint",
                args.second_checkpoint,
                keys=keys,
                size=second_size,
                root=second_root,
                problems=problems,
            )
    return _report(
        problems,
        f"OK: the tree of size {first_size} (root {first_root.hex()}) is a prefix of the tree of size "
        f"{second_size} (root {second_root.hex()})",
    )


def _read_token_argument(token: str) -> str:
    if token != "-":  # noqa: S105 - "-" means stdin
        return token.strip()
    try:
        # Bounded: a token is at most MAX_GATE_TOKEN_CHARS; anything longer is refused by its length anyway.
        return sys.stdin.read(4 * MAX_GATE_TOKEN_CHARS).strip()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read the token from stdin: {error}") from None


def _gate_origin_argument(origin: str | None) -> str | None:
    # The trail's origin is accepted too (as ``verify --origin`` takes it): the gate's is that plus "/gate".
    if origin is None or origin.endswith(GATE_ORIGIN_SUFFIX):
        return origin
    return origin + GATE_ORIGIN_SUFFIX


def _command_gate_token(args: argparse.Namespace) -> int:
    keys = _load_keys_argument(args.trusted_keys)
    token = _read_token_argument(args.token)
    try:
        verified = verify_gate_token(token, keys=keys, origin=_gate_origin_argument(args.origin))
    except GateTokenError as error:
        return _report([f"gate token refused: {error}"], "")
    problems = [
        f"gate token does not match: {mismatch}"
        for mismatch in gate_claims_mismatches(
            verified.claims,
            model=args.expect_model,
            version=args.expect_version,
            environment=args.expect_environment,
            artifact_sha256=args.expect_artifact,
        )
    ]
    if args.json:
        success = json.dumps(
            {
                "origin": verified.origin,
                "signed_by": [key.text() for key in verified.verified_by],
                **gate_claims_json(verified.claims),
            },
            indent=2,
        )
    else:
        signers = ", ".join(key.describe() for key in verified.verified_by)
        success = "\n".join(
            [f"OK: gate token for {verified.origin}, signed by {signers}"]
            + [f"  {line}" for line in gate_claims_lines(verified.claims)]
        )
    return _report(problems, success)


def _argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="verifier.py",
        description="Verify Assay audit-trail exports, inclusion proofs, consistency proofs and gate tokens.",
        epilog=(
            "Exit status: 0 everything verified against keys you trust (--trusted-keys, or the input's own keys "
            "accepted with --trust-bundle-keys / --trust-export-keys); 1 a check failed; 2 not verified against "
            "keys you trust, a usage error, or unreadable input."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True)

    verify = commands.add_parser("verify", help="verify an export directory")
    verify.add_argument("directory", metavar="DIR", help="export directory written by export_trail")
    verify.add_argument("--trusted-keys", metavar="FILE", help="independently obtained verifier keys, one per line")
    verify.add_argument(
        "--trust-export-keys",
        action="store_true",
        help="accept the export's own keys.txt (printed, to compare out of band); without this or --trusted-keys "
        "the exit status is 2 even when every check holds",
    )
    verify.add_argument(
        "--previous-checkpoint",
        metavar="NOTEFILE",
        action="append",
        default=[],
        help="a checkpoint kept from an earlier export; repeat for several",
    )
    verify.add_argument("--origin", help="the log's expected origin (default: the one in trail.json)")
    _add_witness_arguments(verify)
    verify.set_defaults(handler=_command_verify)

    bundle = commands.add_parser(
        "bundle",
        help="verify an evidence bundle and recompute its audits' verdicts from their counts (also: verify.py "
        "BUNDLE.zip, without the word 'bundle')",
    )
    bundle.add_argument("bundle", metavar="BUNDLE.zip", help="evidence bundle written by export_bundle")
    bundle.add_argument("--trusted-keys", metavar="FILE", help="independently obtained verifier keys, one per line")
    bundle.add_argument(
        "--trust-bundle-keys",
        action="store_true",
        help="accept the bundle's own keys/trail-keys.txt (printed with fingerprints, to compare out of band); "
        "without this or --trusted-keys the exit status is 2 even when every check holds",
    )
    bundle.add_argument(
        "--previous-checkpoint",
        metavar="NOTEFILE",
        action="append",
        default=[],
        help="a checkpoint you kept (e.g. trail/checkpoint.note of an earlier bundle); repeat for several",
    )
    bundle.add_argument("--origin", help="the trail's expected origin (default: the one in the manifest)")
    _add_witness_arguments(bundle)
    bundle.set_defaults(handler=_command_bundle)

    inclusion = commands.add_parser("inclusion", help="verify an inclusion proof")
    inclusion.add_argument("proof", metavar="PROOF.json")
    inclusion.add_argument("--checkpoint", metavar="NOTEFILE", help="checkpoint the proof's size and root must match")
    inclusion.add_argument("--trusted-keys", metavar="FILE", help="verifier keys for --checkpoint")
    inclusion.set_defaults(handler=_command_inclusion)

    consistency = commands.add_parser("consistency", help="verify a consistency proof")
    consistency.add_argument("proof", metavar="PROOF.json")
    consistency.add_argument("--first-checkpoint", metavar="NOTEFILE", help="checkpoint for the first tree")
    consistency.add_argument("--second-checkpoint", metavar="NOTEFILE", help="checkpoint for the second tree")
    consistency.add_argument("--trusted-keys", metavar="FILE", help="verifier keys for the checkpoints")
    consistency.set_defaults(handler=_command_consistency)

    gate = commands.add_parser("gate-token", help="verify a signed approval-gate decision token")
    gate.add_argument("token", metavar="TOKEN", help="the token (assay-gate.v1.…), or - to read it from stdin")
    gate.add_argument("--trusted-keys", metavar="FILE", required=True, help="verifier keys, one per line")
    gate.add_argument(
        "--origin", help="the expected origin: the gate's (<trail origin>/gate) or the trail's (default: any)"
    )
    gate.add_argument("--expect-model", metavar="NAME", help="fail unless the token is for this model")
    gate.add_argument("--expect-version", metavar="N", type=int, help="fail unless it is for this version")
    gate.add_argument("--expect-environment", metavar="ENV", help="fail unless it is for this environment")
    gate.add_argument("--expect-artifact", metavar="SHA256", help="fail unless it binds this artifact sha256")
    gate.add_argument("--json", action="store_true", help="print the claims as JSON")
    gate.set_defaults(handler=_command_gate_token)
    return parser


_COMMANDS = ("verify", "bundle", "inclusion", "consistency", "gate-token")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0 verified against trusted keys, 1 a check failed, 2 not
    verified against trusted keys, usage or unreadable input)."""
    parser = _argument_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and not arguments[0].startswith("-") and arguments[0] not in _COMMANDS:
        arguments.insert(0, "bundle")  # python verify.py BUNDLE.zip [...]
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exit_request:  # argparse exits on --help (0) and on usage errors (2)
        return exit_request.code if isinstance(exit_request.code, int) else 2
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
