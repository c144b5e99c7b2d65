#!/usr/bin/env python3
"""s3pager.py UPSTREAM_PORT PORT_FILE — an HTTP proxy in front of s3rver
that answers every ListObjectsV2 request in pages of two keys with its own
continuation tokens (s3rver 3.7.1 fails on truncated ListObjectsV2), and
forwards everything else unchanged. It lets the tests exercise a client's
pagination against real data. Listens on 127.0.0.1, a free port."""
import http.client, http.server, re, sys, urllib.parse, html

UP = int(sys.argv[1])
PAGE = 2

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def forward(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection("127.0.0.1", UP)
        hdrs = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
        c.request(self.command, self.path, body, hdrs)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        # a HEAD has no body: its Content-Length is the object's size
        size = r.getheader("Content-Length") if self.command == "HEAD" else None
        self.send_header("Content-Length", size or str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query, keep_blank_values=True)
        if q.get("list-type") != ["2"]:
            return self.forward()
        full = dict(q)
        full.pop("continuation-token", None); full.pop("max-keys", None)
        c = http.client.HTTPConnection("127.0.0.1", UP)
        c.request("GET", u.path + "?" + urllib.parse.urlencode(full, doseq=True))
        xml = c.getresponse().read().decode()
        items = re.findall(r"<Contents>.*?</Contents>", xml, re.S)
        start = int(q.get("continuation-token", ["0"])[0] or 0)
        page = items[start:start + PAGE]
        more = start + PAGE < len(items)
        out = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><KeyCount>%d</KeyCount>'
               '<IsTruncated>%s</IsTruncated>%s%s</ListBucketResult>') % (
            len(page), "true" if more else "false", "".join(page),
            "<NextContinuationToken>%d</NextContinuationToken>" % (start + PAGE) if more else "")
        data = out.encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    do_PUT = do_POST = do_DELETE = do_HEAD = forward

s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write("%d\n" % s.server_address[1])
s.serve_forever()
