import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';

/** A message as it reached the provider: the fields of its multipart body. */
export interface TappedMessage {
  to: string;
  subject: string;
  html: string;
  text: string;
  delivery: string;
}

export interface BodyTap {
  /** Point MAILGUN_BASE_URL here. */
  url: string;
  messages: TappedMessage[];
  close(): Promise<void>;
}

/**
 * Sits between Herald and the Mailgun mock and keeps the bodies the mock answered 200 to: the
 * mock itself keeps only the parts' sizes. Everything is forwarded as it came and the mock's
 * answer is passed back, so Herald talks to the real mock.
 */
export async function startBodyTap(mockUrl: string): Promise<BodyTap> {
  const messages: TappedMessage[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'connection') headers[k] = v;
        const answer = await request(`${mockUrl}${req.url}`, { method: req.method as 'POST', headers, body: body.length > 0 ? body : null });
        const reply = Buffer.from(await answer.body.arrayBuffer());
        if (answer.statusCode === 200 && req.method === 'POST' && /\/messages$/.test(req.url ?? '')) {
          const form = await new Request('http://tap/', { method: 'POST', body, headers: { 'content-type': String(req.headers['content-type']) } }).formData();
          messages.push({
            to: String(form.get('to')),
            subject: String(form.get('subject')),
            html: String(form.get('html')),
            text: String(form.get('text')),
            delivery: String(form.get('v:herald-delivery')),
          });
        }
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(answer.headers)) if (typeof v === 'string' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
        res.writeHead(answer.statusCode, out).end(reply);
      } catch (err) {
        res.writeHead(502).end(String(err));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    messages,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
