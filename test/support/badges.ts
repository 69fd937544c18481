// Reads printed sign-in badges as a camera would: each card's QR code (the PNG the page
// shows) decoded by jsQR from its pixels, with the pupil's name and the PIN from the
// teacher's list.
import jsQRModule from 'jsqr';
import { PNG } from 'pngjs';

type Decode = (data: Uint8ClampedArray, width: number, height: number) => { data: string } | null;
const jsQR: Decode = ((jsQRModule as unknown as { default?: Decode }).default ?? (jsQRModule as unknown as Decode));

/** The QR code of a PNG data URL, decoded from its pixels. */
export function decodeQr(dataUrl: string): string {
  const png = PNG.sync.read(Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
  const code = jsQR(new Uint8ClampedArray(png.data.buffer, png.data.byteOffset, png.data.length), png.width, png.height);
  if (!code) throw new Error('no QR code could be read from the badge');
  return code.data;
}

export interface PrintedBadge {
  name: string;
  secret: string;
  pin: string | null;
}

/** Every card of a printed badges page, in order, with its PIN when the page lists one. */
export function printedBadges(html: string): PrintedBadge[] {
  const pins = new Map([...html.matchAll(/<tr><td>([^<]+)<\/td><td>[^<]+<\/td><td><code class="badge-pin">(\d+)<\/code><\/td><\/tr>/g)].map((m) => [m[1]!, m[2]!]));
  return [...html.matchAll(/<article class="badge-card"[\s\S]*?<img class="badge-qr" src="([^"]+)"[\s\S]*?<p class="badge-name">([^<]+)<\/p>/g)].map((m) => ({
    name: m[2]!,
    secret: decodeQr(m[1]!),
    pin: pins.get(m[2]!) ?? null,
  }));
}
