package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// client is the demo's and the tests' HTTP client.
type client struct {
	ctx  context.Context
	base string
	out  io.Writer // each exchange is printed here, if set
}

// do sends one request and returns the status and the body.
func (c *client) do(method, path, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(c.ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	if c.out != nil {
		fmt.Fprintf(c.out, "%s %s %s\n  -> %d %s\n", method, path, body, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode, b, nil
}
