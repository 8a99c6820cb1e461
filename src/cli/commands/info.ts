import type { Command } from '../main.js';
import { deviceOption, applyThreads } from '../shared.js';
import { VERSION } from '../../version.js';

const command: Command = {
  spec: {
    name: 'info',
    summary: 'show the engine (libtorch version, threads, CUDA) and, given a model folder, its manifest',
    usage: 'vigil info [model]',
    positionals: [{ name: 'model', help: 'Model folder (optional)' }],
    options: { ...deviceOption },
    examples: ['vigil info', 'vigil info bottle-model'],
  },
  async run(a) {
    // the diagnostic command must work when the engine does not: check the addon before using it
    const { nativeStatus, nativeCandidates } = await import('../../engine/binding.js');
    const status = nativeStatus();
    const out: Record<string, unknown> = { vigil: VERSION, node: process.version, platform: `${process.platform}-${process.arch}` };
    if (!status.ok) {
      out.engine = { ok: false, looked: nativeCandidates(), error: status.error };
      process.stdout.write(JSON.stringify(out, null, 1) + '\n');
      process.stderr.write(`vigil info: the native engine does not load:\n${status.error}\n`);
      return 1;
    }
    const { engineInfo } = await import('../../engine/index.js');
    await applyThreads(a.threads);
    out.engine = { ok: true, ...engineInfo() };
    if (a._[0]) {
      const { loadBundle } = await import('../../bundle/bundle.js');
      const { tensors, manifest } = loadBundle(a._[0]);
      for (const t of tensors.values()) t.dispose();
      const { training, ...rest } = manifest as Record<string, unknown> & { training?: { history?: unknown[] } };
      out.model = { ...rest, training: training ? { ...training, history: `${training.history?.length ?? 0} epochs` } : undefined };
    }
    process.stdout.write(JSON.stringify(out, null, 1) + '\n');
  },
};
export default command;
