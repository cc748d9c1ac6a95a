"""Verifies webhook deliveries with the `standardwebhooks` package, an
implementation of the Standard Webhooks specification independent of the
gateway's.

Usage: verify.py FILE, where FILE holds a JSON list of
{"secret": "whsec_…", "body": "…", "headers": {name: value}}. Exits 0 when
every delivery verifies, 1 (naming the first that does not) otherwise, and
3 when the package is not installed.
"""

import json
import sys

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    print("the standardwebhooks package is not installed", file=sys.stderr)
    sys.exit(3)


def main(path):
    with open(path, encoding="utf-8") as f:
        deliveries = json.load(f)
    for i, d in enumerate(deliveries):
        try:
            payload = Webhook(d["secret"]).verify(d["body"], d["headers"])
        except WebhookVerificationError as e:
            print(f"delivery {i} does not verify: {e}", file=sys.stderr)
            return 1
        print(payload["type"])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
