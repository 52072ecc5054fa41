package api

import (
	"fmt"
	"io"
	"log/slog"
)

// Announce tells the operator what BootstrapAdmin did. A generated token
// is printed once to console, never to the log: the secret must not reach
// log storage; the log only says that it was printed.
func (b Bootstrap) Announce(console io.Writer, log *slog.Logger) {
	switch {
	case b.Generated != "":
		fmt.Fprintf(console, "\nMpegFlow admin API token (shown once, stored hashed; set api.admin_token to choose your own):\n\n    %s\n\n", b.Generated)
		log.Info("generated the admin API token and printed it to the console once")
	case b.ConfiguredRevoked:
		log.Warn("api.admin_token was revoked over the API and is refused; configure another one")
	case b.Replaced > 0:
		log.Info("api.admin_token changed; the previous one is revoked", "revoked", b.Replaced)
	}
}
