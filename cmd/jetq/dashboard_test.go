package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestDashboard(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.serve()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"dashboard", "--allow-actions"}, "needs a token"},
		{[]string{"dashboard", "--dashboard-token", "0123456789abcdef"}, "is for actions"},
		{[]string{"dashboard", "--allow-actions", "--dashboard-token", "short"}, "at least 16 bytes"},
	} {
		if code, _, errOut := c.jetq(tc.args...); code != exitUsage || !strings.Contains(errOut, tc.want) {
			t.Errorf("jetq %v: %d %s", tc.args, code, errOut)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	var out, errb syncBuffer
	ctx, stop := context.WithCancel(context.Background())
	exited := make(chan int)
	env := func(k string) string {
		if k == tokenEnv {
			return "0123456789abcdef-from-env"
		}
		return ""
	}
	go func() {
		exited <- runEnv(ctx, []string{"--server", c.url, "dashboard", "--listen", addr, "--allow-actions", "--base-path", "/jetq/"}, env, &out, &errb)
	}()
	waitFor(t, func() bool {
		return strings.Contains(out.String(), "jetq dashboard on http://"+addr+"/jetq/ (actions on)")
	})
	get := func(path string, h http.Header) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		req.Header = h
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/jetq/", nil); code != http.StatusOK || !strings.Contains(body, "<h1>Overview</h1>") {
		t.Errorf("overview: %d %s", code, body)
	}
	if code, body := get("/jetq/metrics", nil); code != http.StatusOK || !strings.Contains(body, "jetq_up 1") {
		t.Errorf("metrics: %d %s", code, body)
	}
	// The token from the environment signs in.
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).
		PostForm("http://"+addr+"/jetq/login", url.Values{"token": {"0123456789abcdef-from-env"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Errorf("sign-in with the token from the environment: %s %v", resp.Status, resp.Cookies())
	}
	stop()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("dashboard exited %d: %s", code, errb.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dashboard did not stop on interrupt")
	}
}
