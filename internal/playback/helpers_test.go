package playback

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/mpegflow/mpegflow/internal/store"
)

// memKeys is an in-memory KeyGetter counting reads.
type memKeys struct {
	mu    sync.Mutex
	keys  map[string]*store.SigningKey
	reads int
}

func (m *memKeys) Get(_ context.Context, id string) (*store.SigningKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	k, ok := m.keys[id]
	if !ok {
		return nil, store.ErrNotFound
	}
	c := *k
	return &c, nil
}

func (m *memKeys) add(t testing.TB, id string, pub any) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]*store.SigningKey{}
	}
	m.keys[id] = &store.SigningKey{ID: id, PublicKey: der, CreatedAt: time.Now()}
}

func (m *memKeys) revoke(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now()
	m.keys[id].RevokedAt = &now
}

// fixture holds one RSA and one EC key registered in a memKeys.
type fixture struct {
	keys *memKeys
	rsa  *rsa.PrivateKey
	ec   *ecdsa.PrivateKey
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{keys: &memKeys{}, rsa: rk, ec: ek}
	f.keys.add(t, "rsa1", &rk.PublicKey)
	f.keys.add(t, "ec1", &ek.PublicKey)
	return f
}

func mustSign(t testing.TB, priv crypto.Signer, kid string, c TokenClaims) string {
	t.Helper()
	tok, err := Sign(priv, kid, c)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// testGeoDB builds a small MaxMind-format Country database: 10.1.0.0/16 is
// US, 10.2.0.0/16 is DE, 127.0.0.0/8 is FR (reserved networks included so
// that tests from loopback can match).
func testGeoDB(t testing.TB) []byte {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", IncludeReservedNetworks: true, RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, cc := range map[string]string{"10.1.0.0/16": "US", "10.2.0.0/16": "DE", "127.0.0.0/8": "FR"} {
		_, n, _ := net.ParseCIDR(cidr)
		rec := mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)}}
		if err := tree.Insert(n, rec); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := tree.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
