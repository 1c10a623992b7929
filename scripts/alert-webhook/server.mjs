// The stack's stand-in for a pager and a ticket queue: Alertmanager's webhook receivers post
// here (/page, /ticket). Each notification is logged as one JSON line, and the last ones are
// kept for GET /notifications, which the drills of the e2e suite read.
//   LISTEN_HOST (default 0.0.0.0), PORT (default 9094)
import { createServer } from 'node:http';

const KEEP = 500;
const host = process.env.LISTEN_HOST ?? '0.0.0.0';
const port = Number(process.env.PORT ?? 9094);
const received = [];

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
    if (body.length > 1_000_000) req.destroy();
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
    received.push(notification);
    if (received.length > KEEP) received.shift();
    const alerts = (payload.alerts ?? []).map((a) => `${a.labels?.alertname}:${a.status}`);
    console.log(JSON.stringify({ message: 'notification', receiver: notification.receiver, status: payload.status, alerts }));
    res.writeHead(200).end('ok');
  });
});

server.listen(port, host, () => console.log(JSON.stringify({ message: 'alert-webhook listening', host, port })));
for (const signal of ['SIGTERM', 'SIGINT']) process.once(signal, () => server.close(() => process.exit(0)));
