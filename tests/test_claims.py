"""The notebooks' claims: a bound that holds passes silently, one that does not raises naming the claim,
and with FBCD_CLAIMS_LOG set every claim is logged and none raises (what bench/notebook_claims.py reads)."""

import json

import pytest

from fbcd_lab.claims import ClaimError, claim


def test_a_claim_that_holds_passes_and_one_that_does_not_names_itself(monkeypatch):
    monkeypatch.delenv("FBCD_CLAIMS_LOG", raising=False)
    claim("gain", 0.2, above=0.1)
    claim("gap", 0.02, below=0.03)
    claim("tau", 0.4, above=0.1, below=0.9)
    with pytest.raises(ClaimError, match=r"claim 'gain' does not hold: 0.05 is not above 0.1"):
        claim("gain", 0.05, above=0.1)
    with pytest.raises(ClaimError, match=r"0.95 is not above 0.1 and below 0.9"):
        claim("tau", 0.95, above=0.1, below=0.9)
    with pytest.raises(ClaimError, match="is not above 0"):
        claim("at the bound", 0.0, above=0.0)  # the bound itself fails: strict
    with pytest.raises(ClaimError):
        claim("diverged", float("nan"), above=0.0)
    with pytest.raises(ValueError, match="needs a bound"):
        claim("no bound", 1.0)


def test_with_a_log_every_claim_is_recorded_and_none_raises(monkeypatch, tmp_path):
    log = tmp_path / "claims.jsonl"
    monkeypatch.setenv("FBCD_CLAIMS_LOG", str(log))
    claim("holds", 0.2, above=0.1)
    claim("fails", 0.05, above=0.1, below=1.0)
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        {"claim": "holds", "value": 0.2, "above": 0.1, "below": None, "held": True},
        {"claim": "fails", "value": 0.05, "above": 0.1, "below": 1.0, "held": False}]
