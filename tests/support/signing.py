"""GitHub's webhook signature (SPEC §3): X-Hub-Signature-256 carries "sha256=" and the hex HMAC-SHA256 of the raw
body, keyed with the webhook secret."""
import hashlib
import hmac

SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(body: bytes, secret) -> str:
    """The X-Hub-Signature-256 value for `body` (bytes as sent) under `secret` (str or bytes)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def webhook_headers(body: bytes, secret, *, event="push", delivery=None, content_type="application/json",
                    signature: str = None, signed=True) -> dict:
    """The headers GitHub sends with a delivery. A header whose value is None is left out, as a broken sender
    would; `signature` replaces the computed one, and signed=False sends none."""
    headers = {}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if event is not None:
        headers["X-GitHub-Event"] = event
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    if signed:
        headers[SIGNATURE_HEADER] = signature or sign(body, secret)
    return headers
