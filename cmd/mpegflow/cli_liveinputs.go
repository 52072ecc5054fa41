package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// liveInput is the part of the API's live input the CLI prints.
type liveInput struct {
	ID                     string         `json:"id"`
	Name                   string         `json:"name"`
	Meta                   map[string]any `json:"meta"`
	Enabled                bool           `json:"enabled"`
	Static                 bool           `json:"static"`
	Status                 string         `json:"status"`
	CreatedAt              time.Time      `json:"created_at"`
	LastConnectedAt        *time.Time     `json:"last_connected_at"`
	ReconnectWindowSeconds int            `json:"reconnect_window_seconds"`
	Recording              struct {
		Mode string `json:"mode"`
	} `json:"recording"`
	RTMP *struct {
		URL       string `json:"url"`
		StreamKey string `json:"stream_key"`
	} `json:"rtmp"`
	SRT *struct {
		URL string `json:"url"`
	} `json:"srt"`
	WHIP *struct {
		URL string `json:"url"`
	} `json:"whip"`
	Playback struct {
		HLS    string `json:"hls"`
		Player string `json:"player"`
	} `json:"playback"`
}

func printLiveInput(w io.Writer, li liveInput) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "ID:\t%s\n", li.ID)
	fmt.Fprintf(tw, "Name:\t%s\n", li.Name)
	fmt.Fprintf(tw, "Status:\t%s\n", li.Status)
	if li.Static {
		fmt.Fprintf(tw, "Static:\tyes (declared in the configuration file)\n")
	}
	if li.RTMP != nil {
		fmt.Fprintf(tw, "OBS Server:\t%s\n", li.RTMP.URL)
		if li.RTMP.StreamKey != "" {
			fmt.Fprintf(tw, "Stream Key:\t%s\n", li.RTMP.StreamKey)
		}
	}
	if li.SRT != nil {
		fmt.Fprintf(tw, "SRT:\t%s\n", li.SRT.URL)
	}
	if li.WHIP != nil {
		fmt.Fprintf(tw, "WHIP:\t%s (bearer token: the stream key)\n", li.WHIP.URL)
	}
	fmt.Fprintf(tw, "HLS:\t%s\n", li.Playback.HLS)
	fmt.Fprintf(tw, "Player:\t%s\n", li.Playback.Player)
	_ = tw.Flush()
}

func (f *clientFlags) printOne(raw json.RawMessage) error {
	return f.emit(raw, func(w io.Writer, raw json.RawMessage) error {
		var li liveInput
		if err := json.Unmarshal(raw, &li); err != nil {
			return err
		}
		printLiveInput(w, li)
		return nil
	})
}

func liveInputsCmd(f *clientFlags) *cobra.Command {
	c := group("live-inputs", "manage live inputs", "live-input", "li")
	f.register(c)

	var name, meta, recording, srtPass string
	var disabled bool
	var window int
	var st settings
	create := &cobra.Command{
		Use: "create", Short: "create a live input and print its OBS, SRT, WHIP and playback settings", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			body := map[string]any{"name": name}
			if err := setCommon(cmd, body, meta, recording, window); err != nil {
				return err
			}
			st.apply(cmd, body)
			if disabled {
				body["enabled"] = false
			}
			if cmd.Flags().Changed("srt-passphrase") {
				body["srt"] = map[string]any{"passphrase": srtPass}
			}
			raw, _, err := cl.do(cmd.Context(), http.MethodPost, "/v1/live_inputs", body, nil)
			if err != nil {
				return fail(err)
			}
			return fail(f.printOne(raw))
		},
	}
	create.Flags().StringVar(&name, "name", "", "name")
	create.Flags().BoolVar(&disabled, "disabled", false, "create disabled (publishers refused)")
	create.Flags().StringVar(&srtPass, "srt-passphrase", "", `SRT passphrase, 10-79 characters ("" = unencrypted; default generated)`)
	commonFlags(create, &meta, &recording, &window)
	st.flags(create)

	var status string
	var limit int
	list := &cobra.Command{
		Use: "list", Short: "list live inputs (every page)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if status != "" {
				q.Set("status", status)
			}
			if name != "" {
				q.Set("name", name)
			}
			items, err := cl.listAll(cmd.Context(), "/v1/live_inputs", q, limit)
			if err != nil {
				return fail(err)
			}
			if f.output != "table" {
				return fail(f.emitList(items, nil))
			}
			tw := tabwriter.NewWriter(f.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tLAST CONNECTED\tCREATED")
			for _, raw := range items {
				var li liveInput
				if err := json.Unmarshal(raw, &li); err != nil {
					return fail(err)
				}
				last := "-"
				if li.LastConnectedAt != nil {
					last = li.LastConnectedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", li.ID, li.Name, li.Status, last, li.CreatedAt.Local().Format(time.DateTime))
			}
			return fail(tw.Flush())
		},
	}
	list.Flags().StringVar(&status, "status", "", "only this status: idle, connected, reconnecting, disabled")
	list.Flags().StringVar(&name, "name", "", "only names containing this")
	list.Flags().IntVar(&limit, "limit", 0, "at most this many (0 = all)")

	get := &cobra.Command{
		Use: "get ID", Short: "show a live input", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			raw, _, err := cl.do(cmd.Context(), http.MethodGet, "/v1/live_inputs/"+url.PathEscape(args[0]), nil, nil)
			if err != nil {
				return fail(err)
			}
			return fail(f.printOne(raw))
		},
	}

	var enabled bool
	update := &cobra.Command{
		Use: "update ID", Short: "change a live input (only the flags given)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			body := map[string]any{}
			if cmd.Flags().Changed("name") {
				body["name"] = name
			}
			if cmd.Flags().Changed("enabled") {
				body["enabled"] = enabled
			}
			if err := setCommon(cmd, body, meta, recording, window); err != nil {
				return err
			}
			st.apply(cmd, body)
			if len(body) == 0 {
				return usageError("nothing to change: pass --name, --enabled, --meta, --recording, --reconnect-window, --require-signed-urls, --transcode, --ladder or --allowed-origin")
			}
			raw, _, err := cl.do(cmd.Context(), http.MethodPatch, "/v1/live_inputs/"+url.PathEscape(args[0]), body, nil)
			if err != nil {
				return fail(err)
			}
			return fail(f.printOne(raw))
		},
	}
	update.Flags().StringVar(&name, "name", "", "new name")
	update.Flags().BoolVar(&enabled, "enabled", true, "--enabled=false disconnects and refuses the publisher")
	commonFlags(update, &meta, &recording, &window)
	st.flags(update)

	del := &cobra.Command{
		Use: "delete ID", Short: "delete a live input (ends its broadcast)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if _, _, err := cl.do(cmd.Context(), http.MethodDelete, "/v1/live_inputs/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fail(err)
			}
			return fail(f.emitDone("deleted", args[0]))
		},
	}

	rotate := &cobra.Command{
		Use: "rotate-key ID", Short: "new stream key and SRT passphrase; the publisher is disconnected", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			raw, _, err := cl.do(cmd.Context(), http.MethodPost, "/v1/live_inputs/"+url.PathEscape(args[0])+"/rotate_key", map[string]any{}, nil)
			if err != nil {
				return fail(err)
			}
			return fail(f.printOne(raw))
		},
	}
	complete := f.apiCmd("complete ID", "end the current broadcast now", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodPost, "/v1/live_inputs/"+esc(a[0])+"/complete", map[string]any{}, f.printLiveInputTable)
	})
	c.AddCommand(create, list, get, update, del, rotate, complete)
	return c
}

// printLiveInputTable is the table of one live input.
func (f *clientFlags) printLiveInputTable(w io.Writer, raw json.RawMessage) error {
	var li liveInput
	if err := json.Unmarshal(raw, &li); err != nil {
		return err
	}
	printLiveInput(w, li)
	return nil
}

// settings are the flags of a live input's playback and transcode
// settings, shared by create and update.
type settings struct {
	signed    bool
	transcode string
	ladder    []string
	origins   []string
}

func (s *settings) flags(c *cobra.Command) {
	c.Flags().BoolVar(&s.signed, "require-signed-urls", false, "play only with a playback token (see playback-tokens create)")
	c.Flags().StringVar(&s.transcode, "transcode", "", "transcode mode: off or on (the ladder's rungs besides the source)")
	c.Flags().StringSliceVar(&s.ladder, "ladder", nil, "transcode profiles, repeatable (default every configured profile)")
	c.Flags().StringSliceVar(&s.origins, "allowed-origin", nil, `origin allowed to play (repeatable; "*" = any; --allowed-origin= clears)`)
}

// apply sets the flags given on body.
func (s *settings) apply(cmd *cobra.Command, body map[string]any) {
	fl := cmd.Flags()
	if fl.Changed("require-signed-urls") {
		body["require_signed_urls"] = s.signed
	}
	if fl.Changed("transcode") || fl.Changed("ladder") {
		t := map[string]any{}
		if fl.Changed("transcode") {
			t["mode"] = s.transcode
		}
		if fl.Changed("ladder") {
			t["ladder"] = nonNil(s.ladder)
		}
		body["transcode"] = t
	}
	if fl.Changed("allowed-origin") {
		body["allowed_origins"] = nonNil(s.origins)
	}
}

func commonFlags(c *cobra.Command, meta, recording *string, window *int) {
	c.Flags().StringVar(meta, "meta", "", `free JSON object, e.g. '{"team":"a"}'`)
	c.Flags().StringVar(recording, "recording", "", "recording mode: off or automatic")
	c.Flags().IntVar(window, "reconnect-window", 0, "seconds a broadcast waits for its encoder to come back (0 = daemon default)")
}

func setCommon(cmd *cobra.Command, body map[string]any, meta, recording string, window int) error {
	if cmd.Flags().Changed("meta") {
		var m map[string]any
		if err := json.Unmarshal([]byte(meta), &m); err != nil {
			return fmt.Errorf("--meta must be a JSON object: %v", err)
		}
		body["meta"] = m
	}
	if cmd.Flags().Changed("recording") {
		body["recording"] = map[string]any{"mode": strings.TrimSpace(recording)}
	}
	if cmd.Flags().Changed("reconnect-window") {
		body["reconnect_window_seconds"] = window
	}
	return nil
}
