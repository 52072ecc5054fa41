package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mpegflow/mpegflow/internal/api"
)

type apiToken struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
	Token      string     `json:"token"`
}

func tokensCmd(f *clientFlags) *cobra.Command {
	c := group("tokens", "manage API tokens", "token")
	f.register(c)

	var name string
	var scopes []string
	create := &cobra.Command{
		Use: "create", Short: "create an API token; the secret is shown this once", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			var t apiToken
			raw, _, err := cl.do(cmd.Context(), http.MethodPost, "/v1/tokens", map[string]any{"name": name, "scopes": scopes}, &t)
			if err != nil {
				return fail(err)
			}
			if f.output != "table" {
				return fail(f.emit(raw, nil))
			}
			fmt.Fprintf(f.stdout, "ID:      %s\nName:    %s\nScopes:  %s\nToken:   %s\n\nThe token is shown this once; it is stored hashed.\n", t.ID, t.Name, strings.Join(t.Scopes, " "), t.Token)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "name (required)")
	create.Flags().StringSliceVar(&scopes, "scope", nil, "scope, repeatable or comma-separated: "+strings.Join(api.Scopes(), ", "))

	list := &cobra.Command{
		Use: "list", Short: "list API tokens (prefix and metadata)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			items, err := cl.listAll(cmd.Context(), "/v1/tokens", url.Values{}, 0)
			if err != nil {
				return fail(err)
			}
			if f.output != "table" {
				return fail(f.emitList(items, nil))
			}
			tw := tabwriter.NewWriter(f.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tLAST USED\tREVOKED")
			for _, raw := range items {
				var t apiToken
				if err := json.Unmarshal(raw, &t); err != nil {
					return fail(err)
				}
				last, rev := "-", "-"
				if t.LastUsedAt != nil {
					last = t.LastUsedAt.Local().Format(time.DateTime)
				}
				if t.RevokedAt != nil {
					rev = t.RevokedAt.Local().Format(time.DateTime)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Prefix, strings.Join(t.Scopes, ","), last, rev)
			}
			return fail(tw.Flush())
		},
	}

	revoke := &cobra.Command{
		Use: "revoke ID", Short: "revoke an API token", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cl, err := f.client()
			if err != nil {
				return err
			}
			if _, _, err := cl.do(cmd.Context(), http.MethodDelete, "/v1/tokens/"+url.PathEscape(args[0]), nil, nil); err != nil {
				return fail(err)
			}
			return fail(f.emitDone("revoked", args[0]))
		},
	}
	get := f.apiCmd("get ID", "show an API token's metadata", cobra.ExactArgs(1), func(cmd *cobra.Command, cl *apiClient, a []string) error {
		return f.call(cmd, cl, http.MethodGet, "/v1/tokens/"+esc(a[0]), nil, nil)
	})
	c.AddCommand(create, list, get, revoke)
	return c
}
