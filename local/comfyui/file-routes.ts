/**
 * POST /upload/image and GET /view of the simulated ComfyUI, with server.py's answers to
 * bad input: 400 for a malformed form, name or type, 403 for a subfolder that escapes its
 * folder, 404 for a file that is not there.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import { FILE_TYPES, parseAnnotated, PathEscapeError, safeSubfolder, type FileStore, type FileType } from './files.ts';
import { parseMultipart, readBody, sendJson, sendText } from '../http.ts';

const CONTENT_TYPES: Record<string, string> = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif' };

const isFileType = (v: unknown): v is FileType => typeof v === 'string' && (FILE_TYPES as readonly string[]).includes(v);

/** Stores an uploaded image; resolves true when it was stored. */
export async function uploadImage(files: FileStore, req: IncomingMessage, res: ServerResponse, maxBody: number): Promise<boolean> {
  const body = await readBody(req, maxBody);
  let form: FormData;
  try {
    form = await parseMultipart(body, req.headers['content-type'] ?? '');
  } catch {
    sendText(res, 400, '400: Bad Request');
    return false;
  }
  const image = form.get('image');
  if (!(image instanceof File) || image.name === '') {
    sendText(res, 400, '400: Bad Request');
    return false;
  }
  const typeField = form.get('type');
  const type: FileType = isFileType(typeField) ? typeField : 'input';
  const subfolderField = form.get('subfolder');
  const subfolder = typeof subfolderField === 'string' ? subfolderField : '';
  const overwrite = form.get('overwrite');
  try {
    const name = files.upload({ type, subfolder, filename: image.name, bytes: Buffer.from(await image.arrayBuffer()), overwrite: overwrite === 'true' || overwrite === '1' });
    sendJson(res, 200, { name, subfolder, type });
    return true;
  } catch (e) {
    if (!(e instanceof PathEscapeError)) throw e;
    sendText(res, 400, '400: Bad Request');
    return false;
  }
}

export function viewFile(files: FileStore, url: URL, res: ServerResponse): void {
  const raw = url.searchParams.get('filename');
  if (raw === null) return sendText(res, 404, '404: Not Found');
  const { name, type: annotated } = parseAnnotated(raw);
  if (name === '' || name.startsWith('/') || name.includes('..')) return sendText(res, 400, '400: Bad Request');
  const type = annotated ?? url.searchParams.get('type') ?? 'output';
  if (!isFileType(type)) return sendText(res, 400, '400: Bad Request');
  let subfolder: string;
  try {
    subfolder = safeSubfolder(url.searchParams.get('subfolder') ?? '');
  } catch {
    return sendText(res, 403, '403: Forbidden');
  }
  const base = posix.basename(name);
  const file = files.get(type, subfolder, base);
  if (file === undefined) return sendText(res, 404, '404: Not Found');
  const contentType = CONTENT_TYPES[posix.extname(base).toLowerCase()] ?? 'application/octet-stream';
  res.writeHead(200, { 'content-type': contentType, 'content-length': file.bytes.length, 'content-disposition': `filename="${base}"` });
  res.end(file.bytes);
}
