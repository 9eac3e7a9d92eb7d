package client

import (
	"net/http"
	"net/http/httputil"
	"net/url"
)

// Proxy forwards requests to the controller with the client's token: the
// dashboard of a controller on a unix socket, served on loopback by
// `skynomad dashboard`. Streams (server-sent events, logs) are passed on
// as they come.
func (c *Client) Proxy() http.Handler {
	target, _ := url.Parse(c.base) // checked by New
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = r.In.Host
			r.Out.Header.Del("Cookie") // the proxy's own
			if c.token != "" {
				r.Out.Header.Set("Authorization", "Bearer "+c.token)
			}
		},
		Transport:     c.http.Transport,
		FlushInterval: -1,
	}
}
