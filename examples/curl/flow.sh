#!/bin/sh
# The main flow over REST with curl (and jq): register a webhook, create a
# signed live input, mint a playback token, list the recordings.
#   MPEGFLOW_URL=http://localhost:8080 MPEGFLOW_TOKEN=mf_... \
#   WEBHOOK_URL=https://example.com/hooks sh examples/curl/flow.sh
set -eu
: "${MPEGFLOW_URL:?set MPEGFLOW_URL, e.g. http://localhost:8080}"
: "${MPEGFLOW_TOKEN:?set MPEGFLOW_TOKEN to an API token}"
: "${WEBHOOK_URL:?set WEBHOOK_URL to your webhook receiver}"

api() { # METHOD PATH [JSON]: the answer's body; fails on an HTTP error
  curl -sS --fail-with-body -X "$1" "$MPEGFLOW_URL$2" \
    -H "Authorization: Bearer $MPEGFLOW_TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}

# 1. a webhook endpoint; its secret (whsec_...) is shown once: keep it for verification
wh=$(api POST /v1/webhooks "{\"url\": \"$WEBHOOK_URL\", \"event_types\": [\"live_input.created\", \"live_input.connected\", \"recording.started\", \"video.ready\", \"webhook.test\"]}")
echo "webhook $(echo "$wh" | jq -r .data.id) $(echo "$wh" | jq -r .data.secret)"

# 2. a live input whose playback needs a signed token; the answer has the OBS settings
li=$(api POST /v1/live_inputs '{"name": "curl example", "require_signed_urls": true}')
id=$(echo "$li" | jq -r .data.id)
echo "live_input $id"
echo "rtmp $(echo "$li" | jq -r .data.rtmp.url) $(echo "$li" | jq -r .data.rtmp.stream_key)"

# 3. a playback token for viewers, with the ready-to-use URLs
tok=$(api POST "/v1/live_inputs/$id/token" '{"ttl_seconds": 3600}')
echo "token $(echo "$tok" | jq -r .data.token)"
echo "hls $(echo "$tok" | jq -r .data.playback.hls)"

# 4. the recordings (every broadcast becomes a video)
echo "videos $(api GET '/v1/videos?limit=10' | jq '.data | length')"
