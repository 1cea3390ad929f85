/** The value hash (protocol `valueHash`: BLAKE3, hex) through a native build: no copy of shared memory. */
export { nodeValueHash as nodeDigest } from '@meshwork/datalink/blake3';
