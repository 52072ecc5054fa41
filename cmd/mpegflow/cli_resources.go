package main

import (
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// The commands of the resources besides live inputs and API tokens:
// videos, webhooks, signing keys, playback tokens and sessions. Each is a
// thin mapping of arguments and flags onto one API call.

func videosCmd(f *clientFlags) *cobra.Command {
	c := group("videos", "manage videos (recordings and clips)", "video", "vid")
	f.register(c)
	cols := []column{{"ID", "id"}, {"LIVE INPUT", "live_input_id"}, {"STATUS", "status"}, {"DURATION (S)", "duration_seconds"}, {"DOWNLOAD", "download.status"}, {"CREATED", "created_at"}}

	var liveInput, status string
	var limit int
	list := f.apiCmd("list", "list videos, oldest first (every page)", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		q := url.Values{}
		if liveInput != "" {
			q.Set("live_input_id", liveInput)
		}
		if status != "" {
			q.Set("status", status)
		}
		return f.list(cmd, cl, "/v1/videos", q, limit, cols)
	})
	list.Flags().StringVar(&liveInput, "live-input", "", "only the videos of this live input")
	list.Flags().StringVar(&status, "status", "", "only this status: live_recording, processing, ready, errored")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0 = all)")

	get := f.apiCmd("get ID", "show a video", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/videos/"+esc(a[0]), nil, nil)
	})

	var meta, deletion string
	var signed bool
	var origins []string
	update := f.apiCmd("update ID", "change a video (only the flags given)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		body := map[string]any{}
		fl := cmd.Flags()
		if fl.Changed("meta") {
			m, err := jsonFlag("meta", meta)
			if err != nil {
				return err
			}
			body["meta"] = m
		}
		if fl.Changed("scheduled-deletion") {
			body["scheduled_deletion"] = nil
			if deletion != "" {
				body["scheduled_deletion"] = deletion
			}
		}
		if fl.Changed("require-signed-urls") {
			body["require_signed_urls"] = signed
		}
		if fl.Changed("allowed-origin") {
			body["allowed_origins"] = nonNil(origins)
		}
		if len(body) == 0 {
			return usageError("nothing to change: pass --meta, --scheduled-deletion, --require-signed-urls or --allowed-origin")
		}
		return f.call(cmd, cl, http.MethodPatch, "/v1/videos/"+esc(a[0]), body, nil)
	})
	update.Flags().StringVar(&meta, "meta", "", `JSON merge patch of meta, e.g. '{"title":"Keynote"}'`)
	update.Flags().StringVar(&deletion, "scheduled-deletion", "", `RFC 3339 time retention deletes the video at; "" = keep`)
	update.Flags().BoolVar(&signed, "require-signed-urls", false, "play only with a playback token")
	update.Flags().StringSliceVar(&origins, "allowed-origin", nil, `origin allowed to play (repeatable; "*" = any; --allowed-origin= clears)`)

	del := f.apiCmd("delete ID", "delete a video and its files", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.remove(cmd, cl, "/v1/videos/"+esc(a[0]), "deleted", a[0])
	})

	var start, end float64
	var name string
	clip := f.apiCmd("clip ID --start S --end S", "create a clip of a ready video (cut at the nearest part boundaries)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		if !cmd.Flags().Changed("start") || !cmd.Flags().Changed("end") {
			return usageError("clip needs --start and --end (seconds from the video's start)")
		}
		body := map[string]any{"start_seconds": start, "end_seconds": end}
		if name != "" {
			body["name"] = name
		}
		return f.call(cmd, cl, http.MethodPost, "/v1/videos/"+esc(a[0])+"/clips", body, nil)
	})
	clip.Flags().Float64Var(&start, "start", 0, "start, seconds from the video's start")
	clip.Flags().Float64Var(&end, "end", 0, "end, seconds from the video's start")
	clip.Flags().StringVar(&name, "name", "", "the clip's name (meta.name)")

	download := f.apiCmd("download ID", "build the video's MP4 download (status pending, then ready)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodPost, "/v1/videos/"+esc(a[0])+"/downloads", map[string]any{}, nil)
	})
	c.AddCommand(list, get, update, del, clip, download)
	return c
}

func webhooksCmd(f *clientFlags) *cobra.Command {
	c := group("webhooks", "manage webhook endpoints and their deliveries", "webhook", "wh")
	f.register(c)
	cols := []column{{"ID", "id"}, {"URL", "url"}, {"ENABLED", "enabled"}, {"EVENT TYPES", "event_types"}, {"FAILING SINCE", "failing_since"}}
	dcols := []column{{"ID", "id"}, {"TYPE", "type"}, {"STATUS", "status"}, {"ATTEMPTS", "attempts"}, {"LAST STATUS", "last_status_code"}, {"CREATED", "created_at"}}

	var hookURL, description string
	var types, inputs []string
	var enabled bool
	body := func(cmd *cobra.Command) map[string]any {
		b := map[string]any{}
		fl := cmd.Flags()
		if fl.Changed("receiver") {
			b["url"] = hookURL
		}
		if fl.Changed("description") {
			b["description"] = description
		}
		if fl.Changed("event-type") {
			b["event_types"] = nonNil(types)
		}
		if fl.Changed("live-input") {
			b["live_input_ids"] = nonNil(inputs)
		}
		if fl.Changed("enabled") {
			b["enabled"] = enabled
		}
		return b
	}
	flags := func(c *cobra.Command) {
		c.Flags().StringVar(&hookURL, "receiver", "", "the receiver's http(s) URL (--url is the API's)")
		c.Flags().StringVar(&description, "description", "", "description")
		c.Flags().StringSliceVar(&types, "event-type", nil, "only these event types (repeatable; --event-type= clears: every type)")
		c.Flags().StringSliceVar(&inputs, "live-input", nil, "only events of these live inputs (repeatable; --live-input= clears)")
		c.Flags().BoolVar(&enabled, "enabled", true, "--enabled=false stops deliveries (they wait)")
	}
	create := f.apiCmd("create --receiver URL", "create a webhook endpoint; its secret (whsec_...) is shown this once", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		if hookURL == "" {
			return usageError("create needs --receiver (the URL deliveries are POSTed to)")
		}
		return f.call(cmd, cl, http.MethodPost, "/v1/webhooks", body(cmd), nil)
	})
	flags(create)
	list := f.apiCmd("list", "list webhook endpoints", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		return f.list(cmd, cl, "/v1/webhooks", nil, 0, cols)
	})
	get := f.apiCmd("get ID", "show a webhook endpoint", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/webhooks/"+esc(a[0]), nil, nil)
	})
	update := f.apiCmd("update ID", "change a webhook endpoint (only the flags given)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		b := body(cmd)
		if len(b) == 0 {
			return usageError("nothing to change: pass --receiver, --description, --event-type, --live-input or --enabled")
		}
		return f.call(cmd, cl, http.MethodPatch, "/v1/webhooks/"+esc(a[0]), b, nil)
	})
	flags(update)
	del := f.apiCmd("delete ID", "delete a webhook endpoint and its delivery log", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.remove(cmd, cl, "/v1/webhooks/"+esc(a[0]), "deleted", a[0])
	})
	rotate := f.apiCmd("rotate-secret ID", "new signing secret (shown this once); the previous one signs too for 24 h", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodPost, "/v1/webhooks/"+esc(a[0])+"/rotate_secret", map[string]any{}, nil)
	})
	test := f.apiCmd("test ID", "send a webhook.test event now and show the receiver's answer", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodPost, "/v1/webhooks/"+esc(a[0])+"/test", map[string]any{}, nil)
	})
	var dlimit int
	deliveries := f.apiCmd("deliveries ID", "the delivery log of an endpoint, newest first", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.list(cmd, cl, "/v1/webhooks/"+esc(a[0])+"/deliveries", nil, dlimit, dcols)
	})
	deliveries.Flags().IntVar(&dlimit, "limit", 50, "at most this many (0 = all)")
	delivery := f.apiCmd("delivery ID DELIVERY_ID", "show one delivery", cobra.ExactArgs(2), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/webhooks/"+esc(a[0])+"/deliveries/"+esc(a[1]), nil, nil)
	})
	retry := f.apiCmd("retry ID DELIVERY_ID", "send a delivery again now", cobra.ExactArgs(2), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodPost, "/v1/webhooks/"+esc(a[0])+"/deliveries/"+esc(a[1])+"/retry", map[string]any{}, nil)
	})
	c.AddCommand(create, list, get, update, del, rotate, test, deliveries, delivery, retry)
	return c
}

func signingKeysCmd(f *clientFlags) *cobra.Command {
	c := group("signing-keys", "manage playback signing keys (admin)", "signing-key", "keys")
	f.register(c)
	cols := []column{{"ID", "id"}, {"ALGORITHM", "algorithm"}, {"GENERATED", "generated"}, {"MANAGED", "managed"}, {"CREATED", "created_at"}, {"REVOKED", "revoked_at"}}
	var pubFile string
	create := f.apiCmd("create", "generate an RSA key pair (the private key is shown this once), or register a public key", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		body := map[string]any{}
		if pubFile != "" {
			b, err := os.ReadFile(pubFile)
			if err != nil {
				return usageError("--public-key-file: %v", err)
			}
			body["public_key"] = string(b)
		}
		return f.call(cmd, cl, http.MethodPost, "/v1/signing_keys", body, nil)
	})
	create.Flags().StringVar(&pubFile, "public-key-file", "", "register this public key (PEM or JWK) instead of generating a pair")
	list := f.apiCmd("list", "list signing keys (public halves; revoked ones too)", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		return f.list(cmd, cl, "/v1/signing_keys", nil, 0, cols)
	})
	get := f.apiCmd("get ID", "show a signing key", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/signing_keys/"+esc(a[0]), nil, nil)
	})
	revoke := f.apiCmd("revoke ID", "revoke a signing key: its tokens are refused within a second", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.remove(cmd, cl, "/v1/signing_keys/"+esc(a[0]), "revoked", a[0])
	})
	c.AddCommand(create, list, get, revoke)
	return c
}

func playbackTokensCmd(f *clientFlags) *cobra.Command {
	c := group("playback-tokens", "sign playback tokens for signed live inputs and videos", "playback-token")
	f.register(c)
	var liveInput, video, rules string
	var ttl time.Duration
	create := f.apiCmd("create (--live-input ID | --video ID)", "sign a playback token and print it with the URLs that play with it", cobra.NoArgs, func(cmd *cobra.Command, cl *apiClient, _ []string) error {
		path := ""
		switch {
		case liveInput != "" && video == "":
			path = "/v1/live_inputs/" + esc(liveInput) + "/token"
		case video != "" && liveInput == "":
			path = "/v1/videos/" + esc(video) + "/token"
		default:
			return usageError("pass one of --live-input or --video")
		}
		body := map[string]any{}
		if cmd.Flags().Changed("ttl") {
			body["ttl_seconds"] = int64(ttl / time.Second)
		}
		if rules != "" {
			r, err := jsonFlag("access-rules", rules)
			if err != nil {
				return err
			}
			body["access_rules"] = r
		}
		return f.call(cmd, cl, http.MethodPost, path, body, nil)
	})
	create.Flags().StringVar(&liveInput, "live-input", "", "the live input to play")
	create.Flags().StringVar(&video, "video", "", "the video to play")
	create.Flags().DurationVar(&ttl, "ttl", time.Hour, "lifetime, 1s-24h")
	create.Flags().StringVar(&rules, "access-rules", "", `JSON array of access rules, e.g. '[{"type":"ip.src","action":"allow","ip":["192.0.2.0/24"]},{"type":"any","action":"block"}]'`)
	c.AddCommand(create)
	return c
}

func sessionsCmd(f *clientFlags) *cobra.Command {
	c := group("sessions", "live publisher sessions", "session")
	f.register(c)
	cols := []column{{"ID", "id"}, {"LIVE INPUT", "live_input_id"}, {"PROTOCOL", "protocol"}, {"REMOTE", "remote"}, {"BITRATE", "bitrate_bps"}, {"VIEWERS", "viewers"}, {"STARTED", "started_at"}}
	list := f.apiCmd("list LIVE_INPUT_ID", "the live publisher sessions of a live input", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.list(cmd, cl, "/v1/live_inputs/"+esc(a[0])+"/sessions", nil, 0, cols)
	})
	get := f.apiCmd("get ID", "show a live publisher session", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/sessions/"+esc(a[0]), nil, nil)
	})
	kick := f.apiCmd("kick ID", "disconnect a publisher (its encoder may reconnect)", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.remove(cmd, cl, "/v1/sessions/"+esc(a[0]), "kicked", a[0])
	})
	c.AddCommand(list, get, kick)
	return c
}

// nonNil returns s, or [] for nil (a flag given empty clears a list).
func nonNil(s []string) []string {
	out := []string{}
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}
