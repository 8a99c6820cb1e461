/** Shared by the benches: the malaria cell images (../shared/data/malaria) decoded once into memory. */
import { classFolderSource } from '../src/data/classfolders.js';

/** Decodes the malaria folder once into memory (50x50 grayscale), labels 0 = Uninfected, 1 = Parasitized. */
export async function decodeMalaria(dir: string) {
  const files = await classFolderSource(dir, { normal: 'Uninfected', classes: ['Parasitized', 'Uninfected'] });
  const pre = { height: 50, width: 50, channels: 1 as const, resize: 'stretch' as const };
  const n = files.items.length;
  const images = new Uint8Array(n * 2500);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const px = await files.load(i, pre);
    for (let j = 0; j < 2500; j++) images[i * 2500 + j] = Math.round(px[j] * 255);
    labels[i] = files.items[i].label === 0 ? 0 : 1;
  }
  return { images, labels, n };
}
