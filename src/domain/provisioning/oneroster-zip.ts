// Reads the files of a OneRoster zip (fflate's streaming Unzip), refusing what could be a
// zip bomb or a path trick before it costs memory: at most MAX_ENTRIES entries, each file at
// most maxFileBytes and all at most maxTotalBytes once inflated (counted as the bytes come
// out, never trusting the sizes the archive declares), names without folders. The archive is
// fed to the inflater 64 KiB at a time, so one step inflates at most about 64 MiB (deflate's
// ratio is ~1:1032) before the count stops it.
import { Unzip, UnzipInflate, UnzipPassThrough } from 'fflate';

export interface ZipLimits {
  maxEntries: number;
  /** One file, inflated. */
  maxFileBytes: number;
  /** All files, inflated. */
  maxTotalBytes: number;
  /** The zip itself. */
  maxZipBytes: number;
}

export const ZIP_LIMITS: ZipLimits = {
  maxEntries: 64,
  maxFileBytes: 100 * 1024 * 1024,
  maxTotalBytes: 200 * 1024 * 1024,
  maxZipBytes: 100 * 1024 * 1024,
};

/** The whole zip is refused: not a zip, too large, a name with a folder, a delta export. */
export class OneRosterFileError extends Error {
  override name = 'OneRosterFileError';
}

const CHUNK = 64 * 1024;
/** What macOS and Windows add to zips made in their file managers: ignored, with a warning. */
const JUNK = /^(__MACOSX\/|\.DS_Store$|Thumbs\.db$|desktop\.ini$)/i;

export interface ZipContents {
  /** By name as in the zip (CSV names are matched case-insensitively by the caller). */
  files: Map<string, Buffer>;
  /** Entries skipped (operating-system clutter). */
  ignored: string[];
}

export function readZip(zip: Uint8Array, limits: ZipLimits = ZIP_LIMITS): ZipContents {
  if (zip.length === 0) throw new OneRosterFileError('The file is empty.');
  if (zip.length > limits.maxZipBytes) throw new OneRosterFileError(`The zip is larger than ${mb(limits.maxZipBytes)}.`);
  // "PK\x03\x04" (a local file header) or "PK\x05\x06" (an empty archive).
  if (zip[0] !== 0x50 || zip[1] !== 0x4b) throw new OneRosterFileError('The file is not a zip archive.');
  const files = new Map<string, Buffer>();
  const ignored: string[] = [];
  let entries = 0;
  let total = 0;
  let failure: Error | undefined;
  const unfinished = new Set<string>();
  const unzip = new Unzip((file) => {
    if (failure) return;
    entries++;
    if (entries > limits.maxEntries) {
      failure = new OneRosterFileError(`The zip has more than ${limits.maxEntries} entries.`);
      return;
    }
    const name = file.name;
    if (JUNK.test(name) || name.endsWith('/')) {
      if (!name.endsWith('/') || name.startsWith('__MACOSX')) ignored.push(name);
      else if (!failure) failure = new OneRosterFileError(`The zip has a folder (${name}): put the CSV files at the top of the zip, not in a folder.`);
      return;
    }
    if (name.includes('/') || name.includes('\\') || name.includes('\0') || name === '.' || name === '..') {
      failure = new OneRosterFileError(`The zip has a file in a folder (${printable(name)}): put the CSV files at the top of the zip, not in a folder.`);
      return;
    }
    // Names are read without case (USERS.CSV is users.csv): so are duplicates.
    if ([...files.keys(), ...unfinished].some((n) => n.toLowerCase() === name.toLowerCase())) {
      failure = new OneRosterFileError(`The zip has ${printable(name)} twice (names are compared without case).`);
      return;
    }
    if (file.compression !== 0 && file.compression !== 8) {
      failure = new OneRosterFileError(`${printable(name)} is compressed with method ${file.compression}; only stored and deflated files are read.`);
      return;
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    unfinished.add(name);
    file.ondata = (err, chunk, final) => {
      if (failure) return;
      if (err) {
        failure = new OneRosterFileError(`${printable(name)} cannot be inflated (${err.message}).`);
        return;
      }
      size += chunk.length;
      total += chunk.length;
      if (size > limits.maxFileBytes) {
        failure = new OneRosterFileError(`${printable(name)} is larger than ${mb(limits.maxFileBytes)} once unpacked.`);
        file.terminate();
        return;
      }
      if (total > limits.maxTotalBytes) {
        failure = new OneRosterFileError(`The files of the zip are larger than ${mb(limits.maxTotalBytes)} once unpacked.`);
        file.terminate();
        return;
      }
      if (chunk.length) chunks.push(chunk);
      if (final) {
        files.set(name, Buffer.concat(chunks));
        unfinished.delete(name);
      }
    };
    file.start();
  });
  unzip.register(UnzipInflate);
  unzip.register(UnzipPassThrough);
  try {
    for (let at = 0; at < zip.length && !failure; at += CHUNK) unzip.push(zip.subarray(at, Math.min(at + CHUNK, zip.length)), at + CHUNK >= zip.length);
  } catch (err) {
    failure ??= new OneRosterFileError(`The zip cannot be read (${(err as Error).message}).`);
  }
  if (failure) throw failure;
  if (unfinished.size) throw new OneRosterFileError(`The zip is cut short: ${[...unfinished].map(printable).join(', ')} is incomplete.`);
  if (files.size === 0) throw new OneRosterFileError('The zip has no files.');
  return { files, ignored };
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

function printable(name: string): string {
  return JSON.stringify(name.slice(0, 100));
}
