package upload

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/mpegflow/mpegflow/conf"
)

func TestConfigFrom(t *testing.T) {
	c := ConfigFrom(conf.Uploads{MaxSize: 10, PlainMaxSize: 5, CopyMaxSize: 7, CopyTimeout: conf.Duration(time.Minute),
		Workers: 3, MaxUnfinishedPerToken: 4}, "/data")
	if c.Dir != filepath.Join("/data", "uploads") || c.MaxSize != 10 || c.PlainMaxSize != 5 || c.CopyMaxSize != 7 ||
		c.CopyTimeout != time.Minute || c.Workers != 3 || c.MaxUnfinished != 4 || c.Guard == nil {
		t.Fatalf("%+v", c)
	}
}
