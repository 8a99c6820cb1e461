import type { Command } from '../main.js';
import { deviceOption, applyThreads } from '../shared.js';

const command: Command = {
  spec: {
    name: 'info',
    summary: 'show the engine (libtorch version, threads, CUDA) and, given a model folder, its manifest',
    usage: 'vigil info [model]',
    positionals: [{ name: 'model', help: 'Model folder (optional)' }],
    options: { ...deviceOption },
  },
  async run(a) {
    applyThreads(a.threads);
    const { engineInfo } = await import('../../engine/index.js');
    const out: Record<string, unknown> = { engine: engineInfo() };
    if (a._[0]) {
      const { readFileSync } = await import('node:fs');
      const { loadBundle } = await import('../../bundle/bundle.js');
      const { tensors, manifest } = loadBundle(a._[0]);
      for (const t of tensors.values()) t.dispose();
      const { training, ...rest } = manifest as Record<string, unknown> & { training?: { history?: unknown[] } };
      out.model = { ...rest, training: training ? { ...training, history: `${training.history?.length ?? 0} epochs` } : undefined };
      void readFileSync;
    }
    process.stdout.write(JSON.stringify(out, null, 1) + '\n');
  },
};
export default command;
