package conf

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment variable that overrides a key.
const EnvPrefix = "MPEGFLOW_"

// EnvName is the environment variable that overrides key ("hls.part_duration"
// → "MPEGFLOW_HLS_PART_DURATION").
func EnvName(key string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// applyEnv overrides keys from MPEGFLOW_* variables. Variables with the
// prefix that name no key are errors, like unknown YAML keys.
func applyEnv(c *Config, environ []string) error {
	fields := map[string]reflect.Value{}
	keys := map[string]string{}
	collect(reflect.ValueOf(c).Elem(), "", fields, keys)
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) {
			continue
		}
		if name == "MPEGFLOW_URL" || name == "MPEGFLOW_TOKEN" {
			continue // the CLI's server address and API token, not daemon keys
		}
		f, known := fields[name]
		if !known {
			return fmt.Errorf("%s: no such configuration key", name)
		}
		if err := setFromString(f, val); err != nil {
			return fmt.Errorf("%s (%s): %w", keys[name], name, err)
		}
	}
	return nil
}

func collect(v reflect.Value, prefix string, fields map[string]reflect.Value, keys map[string]string) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := t.Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		key := tag
		if prefix != "" {
			key = prefix + "." + tag
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(Duration(0)) {
			collect(f, key, fields, keys)
			continue
		}
		fields[EnvName(key)] = f
		keys[EnvName(key)] = key
	}
}

func setFromString(f reflect.Value, s string) error {
	switch {
	case f.Type() == reflect.TypeOf(Duration(0)):
		d, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("invalid duration %q", s)
		}
		f.SetInt(int64(d))
	case f.Kind() == reflect.String:
		f.SetString(s)
	case f.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(s)
		if err != nil {
			return fmt.Errorf("invalid boolean %q", s)
		}
		f.SetBool(b)
	case f.Kind() == reflect.Float64:
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("invalid number %q", s)
		}
		f.SetFloat(x)
	case f.Kind() == reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("invalid integer %q", s)
		}
		f.SetInt(int64(n))
	case f.Kind() == reflect.Slice:
		// lists come as YAML (JSON is YAML too)
		p := reflect.New(f.Type())
		dec := yaml.NewDecoder(strings.NewReader(s))
		dec.KnownFields(true)
		if err := dec.Decode(p.Interface()); err != nil {
			return fmt.Errorf("invalid list: %w", err)
		}
		f.Set(p.Elem())
	default:
		return fmt.Errorf("unsupported type %s", f.Type())
	}
	return nil
}
