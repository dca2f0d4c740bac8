/**
 * How the simulated providers answer when a transport-level fault is decided: the bodies
 * real gateways and services send (JSON 503 and 429 with Retry-After, nginx's 502 page,
 * truncated or schema-breaking JSON). 'slow' is not here: it delays a normal answer.
 */
import type { ServerResponse } from 'node:http';
import { sendJson, sendText } from '../http.ts';
import { unitHash } from '../faults.ts';

export const NGINX_502 =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n';

export function send503(res: ServerResponse): void {
  sendJson(res, 503, { error: 'service_unavailable', message: 'Service Unavailable: the model server is overloaded, try again later' });
}

export function send429(res: ServerResponse, retryAfterSeconds: number): void {
  sendJson(res, 429, { error: 'rate_limited', message: 'Too Many Requests: rate limit exceeded' }, { 'retry-after': String(retryAfterSeconds) });
}

export function sendHtml502(res: ServerResponse): void {
  sendText(res, 502, NGINX_502, 'text/html');
}

/**
 * A 200 whose body a client must refuse: half the time (fixed by the key) JSON cut off
 * mid-string, otherwise valid JSON that breaks the schema (`invalid` gives that shape).
 */
export function sendMalformed(res: ServerResponse, key: string, valid: unknown, invalid: unknown): void {
  if (unitHash('malformed', key) < 0.5) {
    const text = JSON.stringify(valid);
    sendText(res, 200, text.slice(0, Math.max(1, Math.floor(text.length / 2))), 'application/json');
  } else {
    sendJson(res, 200, invalid);
  }
}
