/**
 * The simulated ComfyUI's input, output and temp folders, kept in memory. Naming follows
 * server.py and folder_paths.py: uploads that clash get "x (1).png" unless the bytes are
 * identical (then the existing name is returned) or `overwrite` is set; SaveImage names
 * are "<prefix>_<counter:05>_.png" with the counter continuing past existing files.
 */
import { createHash } from 'node:crypto';
import { posix } from 'node:path';

export const FILE_TYPES = ['input', 'output', 'temp'] as const;
export type FileType = (typeof FILE_TYPES)[number];

export class PathEscapeError extends Error {
  override readonly name = 'PathEscapeError';
}

export interface StoredFile {
  readonly bytes: Buffer;
  readonly sha256: string;
}

/** A subfolder that stays inside its folder, normalised ("" for the folder itself). */
export function safeSubfolder(subfolder: string): string {
  if (subfolder === '') return '';
  const n = posix.normalize(subfolder.replace(/\\/g, '/'));
  if (n.startsWith('/') || n === '..' || n.startsWith('../')) throw new PathEscapeError(`subfolder escapes its folder: ${subfolder}`);
  return n === '.' ? '' : n.replace(/\/+$/, '');
}

/** "x.png [output]" → { name: "x.png", type: "output" } as folder_paths.annotated_filepath reads it. */
export function parseAnnotated(name: string): { name: string; type: FileType | null } {
  const m = /^(.*) \[(input|output|temp)\]$/.exec(name);
  return m === null ? { name, type: null } : { name: m[1]!, type: m[2] as FileType };
}

export class FileStore {
  #files = new Map<string, StoredFile>();

  static #key(type: FileType, subfolder: string, name: string): string {
    return `${type}/${subfolder === '' ? '' : `${subfolder}/`}${name}`;
  }

  get(type: FileType, subfolder: string, name: string): StoredFile | undefined {
    return this.#files.get(FileStore.#key(type, subfolder, name));
  }

  put(type: FileType, subfolder: string, name: string, bytes: Buffer): void {
    this.#files.set(FileStore.#key(type, subfolder, name), { bytes, sha256: createHash('sha256').update(bytes).digest('hex') });
  }

  /** A LoadImage value: "sub/x.png" or "x.png [output]", relative to the input folder by default. */
  resolveImage(value: string): StoredFile | undefined {
    const { name, type } = parseAnnotated(value);
    const dir = posix.dirname(name);
    try {
      return this.get(type ?? 'input', dir === '.' ? '' : safeSubfolder(dir), posix.basename(name));
    } catch {
      return undefined;
    }
  }

  /** Files directly in the input folder, sorted, as LoadImage lists them. */
  inputList(): string[] {
    return [...this.#files.keys()]
      .filter((k) => k.startsWith('input/') && !k.slice('input/'.length).includes('/'))
      .map((k) => k.slice('input/'.length))
      .sort();
  }

  /** POST /upload/image: the name the file was stored under. */
  upload(file: { type: FileType; subfolder: string; filename: string; bytes: Buffer; overwrite: boolean }): string {
    const { type, filename, bytes, overwrite } = file;
    const sub = safeSubfolder(file.subfolder);
    if (filename.includes('/') || filename.includes('\\') || filename === '..') throw new PathEscapeError(`bad file name: ${filename}`);
    let name = filename;
    if (!overwrite) {
      const dot = filename.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [filename.slice(0, dot), filename.slice(dot)] : [filename, ''];
      const sha = createHash('sha256').update(bytes).digest('hex');
      for (let i = 1; ; i++) {
        const existing = this.get(type, sub, name);
        if (existing === undefined) break;
        if (existing.sha256 === sha) return name;
        name = `${stem} (${i})${ext}`;
      }
    }
    this.put(type, sub, name, bytes);
    return name;
  }

  /** The next SaveImage counter for a prefix in a subfolder (1 when none exists). */
  nextCounter(type: FileType, subfolder: string, prefix: string): number {
    const head = FileStore.#key(type, subfolder, `${prefix}_`);
    let max = 0;
    for (const k of this.#files.keys()) {
      if (!k.startsWith(head)) continue;
      const m = /^(\d{5,})_/.exec(k.slice(head.length));
      if (m !== null) max = Math.max(max, Number(m[1]));
    }
    return max + 1;
  }

  get size(): number {
    return this.#files.size;
  }
}
