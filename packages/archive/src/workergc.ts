// A young-generation collection after each batch in the pools' worker threads. Every file there
// allocates its inflated or deflated bytes outside the JavaScript heap, and with a small heap the
// worker rarely collects on its own, so freed buffers piled up: about 12 MiB per worker on a
// 20,000-file restore. A minor collection per batch (64-128 files) frees them for well under a
// millisecond. \`gc\` is reached through V8's own flag (a worker cannot take --expose-gc); when
// that is unavailable the worker simply does not collect early.
export const MINOR_GC_SOURCE = `
  const minorGc = async () => {
    try {
      (await import('node:v8')).setFlagsFromString('--expose-gc');
      const gc = (await import('node:vm')).runInNewContext('gc');
      return () => gc({ type: 'minor' });
    } catch {
      return () => undefined;
    }
  };`;
