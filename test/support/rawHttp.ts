import http from 'node:http';

export interface RawAnswer {
  status: number;
  text: string;
}

/**
 * One request through node:http with exactly the headers given (Host, Origin, content-type,
 * chunked or declared length), as a browser or a hostile page would send them; undici would
 * normalise some of them.
 */
export function rawRequest(url: string, method: string, reqPath: string, headers: Record<string, string>, body?: string | Buffer): Promise<RawAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, method, path: reqPath, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}
