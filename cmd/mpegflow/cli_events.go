package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
)

func eventsCmd(f *clientFlags) *cobra.Command {
	var types []string
	var liveInput string
	c := &cobra.Command{
		Use: "events", Short: "print the event stream (GET /v1/events) until interrupted", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			q := url.Values{}
			if len(types) > 0 {
				q.Set("type", strings.Join(types, ","))
			}
			if liveInput != "" {
				q.Set("live_input_id", liveInput)
			}
			return f.followEvents(cmd, cl, q, nil, func(_ context.Context, b []byte) error {
				switch f.output {
				case "json":
					fmt.Fprintf(f.stdout, "%s\n", b)
					return nil
				case "yaml":
					fmt.Fprintln(f.stdout, "---")
					_ = printYAML(f.stdout, b)
					return nil
				}
				var ev struct {
					Type        string          `json:"type"`
					Time        time.Time       `json:"time"`
					LiveInputID string          `json:"live_input_id"`
					Data        json.RawMessage `json:"data"`
				}
				if json.Unmarshal(b, &ev) != nil {
					return nil
				}
				extra := ""
				var d struct {
					Code, Message, Protocol, Remote string
				}
				if json.Unmarshal(ev.Data, &d) == nil {
					for _, s := range []string{d.Code, d.Protocol, d.Remote} {
						if s != "" {
							extra += " " + s
						}
					}
				}
				fmt.Fprintf(f.stdout, "%s  %-24s %s%s\n", ev.Time.Local().Format("15:04:05.000"), ev.Type, ev.LiveInputID, extra)
				return nil
			})
		},
	}
	f.register(c)
	c.Flags().StringSliceVar(&types, "type", nil, "only these event types (repeatable or comma-separated)")
	c.Flags().StringVar(&liveInput, "live-input", "", "only events of this live input")
	return c
}

// followEvents opens the event stream with the filter q, calls start
// (when not nil) once it is open, then each for every event, until
// interrupted (nil), each fails or the stream ends.
func (f *clientFlags) followEvents(cmd *cobra.Command, cl *apiClient, q url.Values, start func(context.Context) error, each func(context.Context, []byte) error) error {
	ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := f.dialEvents(ctx, cl, q)
	if err != nil {
		return fail(err)
	}
	defer conn.CloseNow()
	if start != nil {
		if err := start(ctx); err != nil {
			return fail(err)
		}
	}
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				_ = conn.Close(websocket.StatusNormalClosure, "")
				return nil
			}
			if s := websocket.CloseStatus(err); s != -1 {
				return fail(fmt.Errorf("the server closed the event stream: %v", err))
			}
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return fail(err)
		}
		if err := each(ctx, b); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fail(err)
		}
	}
}

// dialEvents opens the event WebSocket (GET /v1/events) with the filter q;
// an API refusal is returned as its *apiError.
func (f *clientFlags) dialEvents(ctx context.Context, cl *apiClient, q url.Values) (*websocket.Conn, error) {
	u := "ws" + strings.TrimPrefix(cl.base, "http") + "/v1/events"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	dctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	conn, res, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + cl.token}}})
	if err != nil {
		if res != nil && res.StatusCode >= 400 {
			var env struct {
				Error apiError `json:"error"`
			}
			if res.Body != nil && json.NewDecoder(res.Body).Decode(&env) == nil && env.Error.Code != "" {
				env.Error.Status = res.StatusCode
				return nil, &env.Error
			}
		}
		return nil, err
	}
	conn.SetReadLimit(1 << 20)
	return conn, nil
}
