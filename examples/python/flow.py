"""The main flow over REST with Python's standard library only: register a
webhook, create a signed live input, mint a playback token, list the
recordings.

    MPEGFLOW_URL=http://localhost:8080 MPEGFLOW_TOKEN=mf_... \\
    WEBHOOK_URL=https://example.com/hooks python3 examples/python/flow.py
"""
import json
import os
import sys
import urllib.error
import urllib.request

BASE = os.environ["MPEGFLOW_URL"].rstrip("/")
TOKEN = os.environ["MPEGFLOW_TOKEN"]


def api(method, path, body=None):
    """Calls the API and returns the decoded answer; exits on an error."""
    req = urllib.request.Request(
        BASE + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + TOKEN, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return json.load(res)
    except urllib.error.HTTPError as e:
        err = json.load(e).get("error", {})
        sys.exit(f"{method} {path}: HTTP {e.code} {err.get('code')}: {err.get('message')}")


# 1. a webhook endpoint; its secret (whsec_...) is shown once: keep it for verification
wh = api("POST", "/v1/webhooks", {
    "url": os.environ["WEBHOOK_URL"],
    "event_types": ["live_input.created", "live_input.connected", "recording.started", "video.ready", "webhook.test"],
})["data"]
print("webhook", wh["id"], wh["secret"])

# 2. a live input whose playback needs a signed token; the answer has the OBS settings
li = api("POST", "/v1/live_inputs", {"name": "python example", "require_signed_urls": True})["data"]
print("live_input", li["id"])
print("rtmp", li["rtmp"]["url"], li["rtmp"]["stream_key"])

# 3. a playback token for viewers, with the ready-to-use URLs
tok = api("POST", f"/v1/live_inputs/{li['id']}/token", {"ttl_seconds": 3600})["data"]
print("token", tok["token"])
print("hls", tok["playback"]["hls"])

# 4. the recordings (every broadcast becomes a video)
print("videos", len(api("GET", "/v1/videos?limit=10")["data"]))
