// The stack's stand-in for a pager and a ticket queue: Alertmanager's webhook receivers post
// here (/page, /ticket). Each notification is logged as one JSON line, and the last ones are
// kept for GET /notifications, which the drills of the e2e suite read. What it keeps is bounded
// by count and by bytes, so a burst of large notifications cannot outgrow its container's memory.
//   LISTEN_HOST (default 0.0.0.0), PORT (default 9094)
import { createServer } from 'node:http';

const KEEP = 500;
const KEEP_BYTES = 8 * 1024 * 1024;
const MAX_BODY_BYTES = 1_000_000;
const host = process.env.LISTEN_HOST ?? '0.0.0.0';
const port = Number(process.env.PORT ?? 9094);
const received = [];
const sizes = [];
let keptBytes = 0;

function keep(notification) {
  const size = Buffer.byteLength(JSON.stringify(notification));
  received.push(notification);
  sizes.push(size);
  keptBytes += size;
  while (received.length > KEEP || (keptBytes > KEEP_BYTES && received.length > 1)) {
    received.shift();
    keptBytes -= sizes.shift();
  }
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://alert-webhook');
  if (req.method === 'GET' && url.pathname === '/notifications') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
    return;
  }
  if (req.method === 'GET' && url.pathname === '/health') {
    res.writeHead(200).end('ok');
    return;
  }
  if (req.method !== 'POST' || !['/page', '/ticket'].includes(url.pathname)) {
    res.writeHead(404, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'POST /page or /ticket; GET /notifications' }));
    return;
  }
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk) => {
    body += chunk;
    if (body.length > MAX_BODY_BYTES) req.destroy();
  });
  req.on('end', () => {
    let payload;
    try {
      payload = JSON.parse(body);
    } catch {
      res.writeHead(400).end('not JSON');
      return;
    }
    const notification = { receivedAt: new Date().toISOString(), receiver: url.pathname.slice(1), ...payload };
    keep(notification);
    const alerts = (payload.alerts ?? []).map((a) => `${a.labels?.alertname}:${a.status}`);
    console.log(JSON.stringify({ message: 'notification', receiver: notification.receiver, status: payload.status, alerts }));
    res.writeHead(200).end('ok');
  });
});

// PORT=0 picks a free port (the tests); the line names the one bound.
server.listen(port, host, () => console.log(JSON.stringify({ message: 'alert-webhook listening', host, port: server.address().port })));
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
