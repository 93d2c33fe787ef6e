import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse, stringify } from 'yaml';

async function editPins(keysDirectory: string, edit: (pins: Record<string, unknown>) => void): Promise<void> {
  const pinsFile = path.join(keysDirectory, 'pins.yaml');
  const pins = parse(await readFile(pinsFile, 'utf8')) as Record<string, unknown>;
  edit(pins);
  await writeFile(pinsFile, stringify(pins));
}

/** Lists a product under unsignedProducts in a side's keys folder, as an admin who accepts a vendor hash would. */
export function acceptUnsignedProduct(keysDirectory: string, productId: string): Promise<void> {
  return editPins(keysDirectory, (pins) => {
    pins.unsignedProducts = { [productId]: { reviewed: 'test: no signature this project pins is offered' } };
  });
}

/** Removes every unsignedProducts entry from a keys folder (e.g. the LGWAN side's copy of the shipped one). */
export function refuseUnsignedProducts(keysDirectory: string): Promise<void> {
  return editPins(keysDirectory, (pins) => {
    delete pins.unsignedProducts;
  });
}
