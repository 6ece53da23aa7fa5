"""GitHub's sample payloads, read from shared/reference/github-payloads beside the checkout (or
GITHUB_PAYLOADS_DIR), not copied into the project; and fresh commit SHAs, so that tests sharing a stand-in do not
meet each other's Check Runs."""
import hashlib
import os
import pathlib
import uuid

from .stack import ROOT

PAYLOADS = pathlib.Path(os.environ.get("GITHUB_PAYLOADS_DIR", ROOT.parent / "shared/reference/github-payloads"))


def payload(name) -> bytes:
    return (PAYLOADS / name).read_bytes()


def new_sha(label="") -> str:
    """A commit SHA nobody has used."""
    return hashlib.sha1(f"{uuid.uuid4()}{label}".encode()).hexdigest()
