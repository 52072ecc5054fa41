package main

import (
	"io"
	"strings"
	"testing"
)

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-nope"},
		{"-keys", "nocolon"},
		{"-daemon", "./mpegflow", "-http", "http://x"},
		{"extra"},
		{"-protocol", "rtmfp"},
		{"-daemon", "./mpegflow", "-srt", "127.0.0.1:8890"},
		{"-signed"},
		{"-signed", "-http", "http://x", "-keys", "a:b"},
		{"-signed", "-daemon", "./mpegflow", "-protocol", "srt"},
		{"-signed", "-daemon", "./mpegflow", "-protocol", "whip"},
		{"-signed", "-daemon", "./mpegflow", "-token-in", "header"},
		{"-record"},
		{"-record", "-http", "http://x", "-keys", "a:b"},
		{"-daemon", "./mpegflow", "-sample-every", "10ms"},
	} {
		var stderr strings.Builder
		if code := run(args, io.Discard, &stderr); code != 2 {
			t.Errorf("%q: exit %d, want 2 (%s)", args, code, stderr.String())
		}
	}
}

func TestSetupFailureExits1(t *testing.T) {
	var stderr strings.Builder
	code := run([]string{"-publishers", "0", "-readers", "1", "-duration", "1s"}, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "setup failed") {
		t.Errorf("exit %d: %s", code, stderr.String())
	}
}
